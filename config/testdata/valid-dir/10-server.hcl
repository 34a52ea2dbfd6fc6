server {
  production = true
}

lookups {
  company = "example"
}

upstream "hr" {
  url    = "http://127.0.0.1:9002"
  prefix = "/hr"
}
