lookups {
  region = "eu"
  tags   = ["a"] # ERROR: Invalid lookup value
  nested { # ERROR: Unexpected "nested" block
  }
  ñame   = 1 # ERROR: Invalid name
  huge   = 1e400 # ERROR: Invalid lookup value
  none   = null # ERROR: Invalid lookup value
}

lookups "extra" { # ERROR: Extraneous label for lookups
  other = 1
}

lookups {
  region = "us" # ERROR: Duplicate lookup
}
