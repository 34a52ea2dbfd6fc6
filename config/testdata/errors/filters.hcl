upstream "hr" {
  url    = "http://127.0.0.1:9002"
  prefix = "/hr"
}

role "r" {
  allow "hr" {
    paths  = ["/employees"]
    verbs  = ["GET"]
    filter = "record.level <= lookup.max_level &&" # ERROR: Invalid filter
  }
  allow "hr" {
    paths  = ["/a"]
    verbs  = ["GET"]
    filter = "recrod.level < 3" # ERROR: Invalid filter
  }
  allow "hr" {
    paths   = ["/b"]
    verbs   = ["GET"]
    records = "data..items" # ERROR: Invalid records path
    filter  = "user.name" # ERROR: Invalid filter
  }
  allow "hr" {
    paths   = ["/c"]
    verbs   = ["GET"]
    records = "result.items"
    filter  = "record.owner == user.name || \"admins\" in user.groups"
  }
  allow "hr" {
    paths   = ["/deep"]
    verbs   = ["GET"]
    records = "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a" # ERROR: Records cannot be filtered
    filter  = "record.level < 3"
  }
  allow "hr" {
    paths   = ["/unnamed"]
    verbs   = ["GET"]
    records = "data"
    filter  = "record[\"\"] == 1" # ERROR: Records cannot be filtered
  }
}

role "scoped" {
  lookups        = { region = "eu" }
  secret_lookups = { region = "us", token = "s3cr3t" } # ERROR: Duplicate lookup
  allow "hr" {
    paths  = ["/d"]
    verbs  = ["GET"]
    filter = "record.region == lookup.regoin" # ERROR: Unknown lookup
  }
  allow "hr" {
    paths  = ["/e"]
    verbs  = ["GET"]
    filter = "record.region == lookup.region && record.t != lookup.token"
  }
}
