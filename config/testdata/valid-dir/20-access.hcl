lookups {
  region = "eu"
}

app "portal" {
  api_key_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
  default_role   = "reader"
}

role "reader" {
  allow "hr" {
    paths = ["/employees/*"]
    verbs = ["GET"]
  }
}
