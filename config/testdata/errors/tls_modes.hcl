# A tls block takes one certificate source, and there is one tls block.
tls {
  cert_file = "cert.pem" # ERROR: Conflicting TLS settings
  acme {
    domains   = ["api.example.com"]
    cache_dir = "acme"
  }
  acme { # ERROR: Duplicate acme block
    domains   = ["www.example.com"]
    cache_dir = "acme"
  }
}

tls { # ERROR: Duplicate tls block
  key_file = "key.pem" # ERROR: Missing certificate
}
