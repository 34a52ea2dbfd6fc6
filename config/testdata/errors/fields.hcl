upstream "hr" {
  url    = "http://127.0.0.1:9002"
  prefix = "/hr"
}

role "r" {
  allow "hr" {
    paths = ["/a"]
    verbs = ["GET"]
    hide_fields = [
      "salary",
      "bank..iban", # ERROR: Invalid field path
      "",           # ERROR: Invalid field path
      " x",         # ERROR: Invalid field path
    ]
  }
  allow "hr" {
    paths = ["/b"]
    verbs = ["GET"]
    hide_fields = [
      "salary",
      "SALARY", # ERROR: Duplicate field
    ]
  }
  allow "hr" {
    paths = ["/c"]
    verbs = ["GET"]
    hide_fields = [
      "bank",
      "bank.iban", # ERROR: Conflicting fields
    ]
  }
  allow "hr" {
    paths       = ["/d"]
    verbs       = ["GET"]
    hide_fields = ["ssn"]
    mask_fields = {
      ssn = "***" # ERROR: Duplicate field
    }
  }
  allow "hr" {
    paths = ["/e"]
    verbs = ["GET"]
    mask_fields = {
      ssn  = ["x"] # ERROR: Invalid mask
      note = { a = 1 } # ERROR: Invalid mask
    }
  }
  allow "hr" {
    paths       = ["/f"]
    verbs       = ["GET"]
    hide_fields = "salary" # ERROR: Incorrect attribute value type
  }
  deny "hr" {
    paths       = ["/g"]
    verbs       = ["GET"]
    hide_fields = ["salary"] # ERROR: Unsupported argument
  }
}
