server {
  listen              = "8080" # ERROR: Invalid address
  admin_listen        = "localhost:admin" # ERROR: Invalid address
  read_timeout        = "30" # ERROR: Invalid duration
  idle_timeout        = "-1s" # ERROR: Invalid duration
  read_header_timeout = "0s" # ERROR: Invalid duration
  max_header_bytes    = 0 # ERROR: Invalid size
  max_body_bytes      = 1.5 # ERROR: Invalid size
  body_buffer_bytes   = -1 # ERROR: Invalid size
  trusted_proxies = [
    "10.0.0.0/8",
    "10.0.0.1/8", # ERROR: Invalid CIDR
    "not-an-ip", # ERROR: Invalid CIDR
    "::ffff:10.0.0.1", # ERROR: Invalid CIDR
  ]
}

upstream "ftp" {
  url    = "ftp://files.internal" # ERROR: Invalid URL
  prefix = "/files/" # ERROR: Invalid prefix
}

upstream "creds" {
  url     = "http://user:pass@127.0.0.1:9002" # ERROR: Invalid URL
  prefix  = "/creds/*" # ERROR: Invalid prefix
  timeout = "soon" # ERROR: Invalid duration
}

upstream "query" {
  url    = "http://127.0.0.1:9002/?debug=1" # ERROR: Invalid URL
  prefix = "hr" # ERROR: Invalid prefix
}

upstream "bad name" { # ERROR: Invalid name
  url    = "http://127.0.0.1:9002"
  prefix = "/ok"
}

app "portal" {
  api_key_sha256 = "9f86d0" # ERROR: Invalid API key hash
  lookups        = { "bad key" = 1 } # ERROR: Invalid name
}

role "1reader" { # ERROR: Invalid name
  allow "ftp" {
    paths = [
      "/employees",
      "employees/*", # ERROR: Invalid path glob
      "/emp*", # ERROR: Invalid path glob
      "/a/**/**", # ERROR: Invalid path glob
    ]
    verbs = ["GET", "get", "FETCH"] # ERROR: Unknown verb; Unknown verb
  }
  allow "creds" {
    paths = [] # ERROR: Empty list
    verbs = [] # ERROR: Empty list
  }
}

upstream "port" {
  url    = "http://127.0.0.1:65536" # ERROR: Invalid URL
  prefix = "/port"
}

upstream "nohost" {
  url    = "http:///path" # ERROR: Invalid URL
  prefix = "/nohost"
}
