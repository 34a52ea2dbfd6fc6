server {
  listen  = ":8080"
  https_listen = ":8443" # ERROR: Unsupported argument
}

upstream "hr" {
  url     = "http://127.0.0.1:9002"
  prefix  = "/hr"
  timout  = "30s" # ERROR: Unsupported argument
}

role "reader" {
  allow "hr" {
    paths  = ["/x"]
    verbs  = ["GET"]
    filtr  = "true" # ERROR: Unsupported argument
  }
  deny "hr" {
    paths   = ["/x/secret"]
    verbs   = ["GET"]
    filter  = "true" # ERROR: Unsupported argument
  }
  grant "hr" { # ERROR: Unsupported block type
  }
}
