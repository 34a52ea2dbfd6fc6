users "alice" { # ERROR: Unsupported block type
  password_hash = "x"
}

cros "/hr/*" { # ERROR: Unsupported block type
  origins = ["https://portal.example.com"]
}

listen = ":8080" # ERROR: Unsupported argument
