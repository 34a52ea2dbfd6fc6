server {
  listen = ":8080"
}

server { # ERROR: Duplicate server
  listen = ":8081"
}

lookups {
  company = "example"
}

lookups {
  company = "other" # ERROR: Duplicate lookup
}

upstream "hr" {
  url    = "http://127.0.0.1:9002"
  prefix = "/hr"
}

upstream "people" {
  url    = "http://127.0.0.1:9003"
  prefix = "/hr" # ERROR: Duplicate prefix
}

upstream "hr" { # ERROR: Duplicate upstream
  url    = "http://127.0.0.1:9004"
  prefix = "/hr2"
}

app "portal" {
  api_key_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
  lookups        = { tenant = "t1", tenant = "t2" } # ERROR: Duplicate lookup
}

app "batch" {
  api_key_sha256 = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08" # ERROR: Duplicate API key hash
}

role "reader" {
}

role "reader" { # ERROR: Duplicate role
}
