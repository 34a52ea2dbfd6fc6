# One mistake per line in a tls block; every one is reported.
server {
  listen     = ":8080"
  tls_listen = "127.0.0.1:8080" # ERROR: Invalid address
}

tls {
  hsts_max_age = "1500ms" # ERROR: Invalid duration
  acme {
    email = "ops" # ERROR: Invalid email
    domains = [
      "api.example.com",
      "*.example.com", # ERROR: Invalid domain
      "192.0.2.7", # ERROR: Invalid domain
      "localhost", # ERROR: Invalid domain
      "API.example.com.", # ERROR: Invalid domain
    ]
    directory = "http://acme.example.com/directory" # ERROR: Invalid URL
    cache_dir = "tls.hcl" # ERROR: Unwritable directory
    ca_roots  = "missing.pem" # ERROR: Unreadable file
    eab_kid   = "kid-1" # ERROR: Invalid external account binding
  }
}
