# One missing closing quote makes HCL misread the rest of the file: it used
# to report an error on every later line (26 for the quickstart config).
# Now it is one error, at the opening quote of the string.
server {
  listen = "127.0.0.1:8080 # ERROR: Unterminated string
  admin_listen = "127.0.0.1:9901"
}

upstream "hr" {
  url    = "http://127.0.0.1:9001"
  prefix = "/hr"
}

upstream "crm" {
  url    = "http://127.0.0.1:9002"
  prefix = "/crm"
}

role "reader" {
  allow "hr" {
    paths = ["/x", "/y/*"]
    verbs = ["GET"]
  }
}

app "portal" {
  api_key_sha256 = env("GATEHOUSE_TEST_SURELY_UNSET")
  roles          = ["reader"]
}
