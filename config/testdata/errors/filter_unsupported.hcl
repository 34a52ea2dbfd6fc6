upstream "hr" {
  url    = "http://127.0.0.1:9002"
  prefix = "/hr"
}

role "r" {
  allow "hr" {
    paths  = ["/employees"]
    verbs  = ["GET"]
    filter = "record.level < 3" # ERROR: Record filters not available
  }
}
