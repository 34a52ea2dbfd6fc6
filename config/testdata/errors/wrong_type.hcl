server {
  production       = "yes" # ERROR: Incorrect attribute value type
  identity_headers = [true] # ERROR: Incorrect attribute value type
  max_body_bytes   = "lots" # ERROR: Incorrect attribute value type
  listen           = null # ERROR: Incorrect attribute value type
  trusted_proxies  = "10.0.0.0/8" # ERROR: Incorrect attribute value type
}

upstream "hr" {
  url    = "http://127.0.0.1:9002"
  prefix = "/hr"
  active = 1 # ERROR: Incorrect attribute value type
}

app "portal" {
  api_key_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
  lookups        = "tenant=t1" # ERROR: Incorrect attribute value type
}

role "reader" {
  lookups = {
    tags = ["a", "b"] # ERROR: Invalid lookup value
  }
  allow "hr" {
    paths = "/employees" # ERROR: Incorrect attribute value type
    verbs = [
      ["GET"], # ERROR: Incorrect attribute value type
    ]
  }
}
