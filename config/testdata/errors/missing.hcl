upstream "hr" { # ERROR: Missing required argument
  prefix = "/hr"
}

upstream { # ERROR: Missing name for upstream
  url    = "http://127.0.0.1:9002"
  prefix = "/x"
}

app "portal" { # ERROR: Missing required argument
}

role "reader" {
  allow "hr" { # ERROR: Missing required argument; Missing required argument
  }
  allow { # ERROR: Missing upstream for allow
    paths = ["/x"]
    verbs = ["GET"]
  }
}

server "main" { # ERROR: Extraneous label for server
}
