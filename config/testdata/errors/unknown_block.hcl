users "alice" { # ERROR: Unsupported block type
  password_hash = "x"
}

cors "/hr/*" { # ERROR: Unsupported block type
  origins = ["https://portal.example.com"]
}

listen = ":8080" # ERROR: Unsupported argument
