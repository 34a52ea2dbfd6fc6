# Client headers removed besides the default list, and defaults kept.
server {
  strip_headers = ["X-Tenant-Admin", "X-Corp-*"]
  keep_headers  = ["X-Forwarded-Prefix", "x_user_agent"]
}

upstream "api" {
  url    = "http://127.0.0.1:9000"
  prefix = "/"
}
