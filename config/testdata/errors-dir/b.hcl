upstream "hr" { # ERROR: Duplicate upstream
  url    = "http://127.0.0.1:9003"
  prefix = "/people"
}

app "portal" { # ERROR: Duplicate app
  api_key_sha256 = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
}

role "reader" { # ERROR: Duplicate role
}

server {
  listen = ":8080"
}

server { # ERROR: Duplicate server
}
