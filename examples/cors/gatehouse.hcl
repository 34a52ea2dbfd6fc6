# CORS: browser apps on other origins call the HR API through gatehouse.
#
#   export PORTAL_KEY_SHA256=...   # from `gatehouse keygen`
#   gatehouse validate --config examples/cors
#   gatehouse run --config examples/cors
#
# See docs/cors.md for the matching rules and the security notes.

server {
  listen       = "127.0.0.1:8080"
  admin_listen = "127.0.0.1:9901"
  production   = true
}

upstream "hr" {
  url    = "http://127.0.0.1:9002"
  prefix = "/hr"
}

upstream "status" {
  url    = "http://127.0.0.1:9002/status"
  prefix = "/status"
  public = true
}

app "portal" {
  api_key_sha256 = env("PORTAL_KEY_SHA256")
  default_role   = "hr_editor"
}

role "hr_editor" {
  allow "hr" {
    paths = ["/employees", "/employees/*"]
    verbs = ["GET", "PUT"]
  }
}

# The portal, and a developer's local build of it, may read and update
# employees, with cookies (credentials) and the API key header.
cors "/hr/**" {
  origins         = ["https://portal.example.com", "http://localhost:3000"]
  methods         = ["GET", "PUT"]
  headers         = ["Content-Type", "X-API-Key"]
  exposed_headers = ["X-Request-Id"]
  max_age         = 600
  credentials     = true
}

# More specific than /hr/**: the widgets of every tenant subdomain may read
# the directory, without credentials.
cors "/hr/employees/directory" {
  origins = ["https://*.portal.example.com"]
  methods = ["GET"]
  headers = ["X-API-Key"]
}

# No CORS at all below /hr/admin, although /hr/** matches.
cors "/hr/admin/**" {
  origins = ["https://portal.example.com"]
  enabled = false
}

# Anyone may read the public status, without credentials.
cors "/status" {
  origins = ["*"]
  methods = ["GET", "HEAD"]
}
