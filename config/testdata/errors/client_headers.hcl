# strip_headers takes header names or "Name*" prefixes; keep_headers only
# names from the default list that may be kept.
server {
  strip_headers = [
    "X-Tenant-Admin",
    "Bad Name", # ERROR: Invalid header
    "*", # ERROR: Invalid header
    "X-*-Role", # ERROR: Invalid header
    "x_tenant_admin", # ERROR: Duplicate key
    "X-Auth-Request-Email",
  ]
  keep_headers = [
    "X-Forwarded-Prefix",
    "Accept", # ERROR: Invalid header
    "X-Gatehouse-User", # ERROR: Invalid header
    "X-HTTP-Method-Override", # ERROR: Invalid header
    "X-Real-IP", # ERROR: Invalid header
    "x_forwarded_prefix", # ERROR: Duplicate key
    "X-Auth-Request-Email", # ERROR: Invalid header
  ]
}

upstream "api" {
  url    = "http://127.0.0.1:9000"
  prefix = "/"
}
