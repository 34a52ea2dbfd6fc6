cors "/hr/**" {
  origins = [
    "https://portal.example.com",
    "portal.example.com", # ERROR: Invalid origin
    "https://portal.example.com/app", # ERROR: Invalid origin
    "https://portal.example.com/", # ERROR: Invalid origin
    "https://portal.example.com?x=1", # ERROR: Invalid origin
    "ftp://files.example.com", # ERROR: Invalid origin
    "https://*.com", # ERROR: Invalid origin
    "https://*.github.io", # ERROR: Invalid origin
    "https://a.*.example.com", # ERROR: Invalid origin
    "https://user@portal.example.com", # ERROR: Invalid origin
    "https://portal.example.com:99999", # ERROR: Invalid origin
    "HTTPS://Portal.Example.com:443", # ERROR: Duplicate key
  ]
  methods         = ["GET", "put", "FETCH"] # ERROR: Unknown verb; Unknown verb
  headers         = ["X-API-Key", "X Bad", "*", "x-api-key"] # ERROR: Invalid header; Invalid header; Duplicate key
  exposed_headers = ["X-Request-Id"]
  max_age         = 86401 # ERROR: Invalid max_age
  credentials     = true
}

cors "/any/**" {
  origins     = ["*"] # ERROR: Wildcard origin with credentials
  credentials = true
}

cors "/mixed" {
  origins = ["https://a.example.com", "*"] # ERROR: Invalid origin
  max_age = -1 # ERROR: Invalid max_age
}

cors "/empty" {
  origins = [] # ERROR: Empty list
  methods = [] # ERROR: Empty list
}

cors "hr/*" { # ERROR: Invalid path glob
  origins = ["https://portal.example.com"]
}

cors "/emp*" { # ERROR: Invalid path glob
  origins = ["https://portal.example.com"]
}

cors "/hr/**" { # ERROR: Duplicate cors path
  origins = ["https://other.example.com"]
}

cors "/a/*/c" {
  origins = ["https://portal.example.com"]
}

cors "/a/b/*" { # ERROR: Ambiguous cors paths
  origins = ["https://portal.example.com"]
}

cors "/nothing" {
  origins = ["https://portal.example.com"]
  colour  = "blue" # ERROR: Unsupported argument
}

cors "/fine" { # ERROR: Missing required argument
}
