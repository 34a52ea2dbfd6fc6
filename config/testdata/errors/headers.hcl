lookups {
  tenant = "t1"
}

upstream "hr" {
  url    = "http://127.0.0.1:9002"
  prefix = "/hr"
  headers = { # ERROR: Unknown lookup
    "X-Tenant"         = "{lookup.tenant}"
    "X-Region"         = "{lookup.regoin}"
    "X-Gatehouse-User" = "x" # ERROR: Invalid header
    "Host"             = "x" # ERROR: Invalid header
    "X-Bad"            = "{user.password}" # ERROR: Invalid header
    "Bad Name"         = "x" # ERROR: Invalid header
  }
}
