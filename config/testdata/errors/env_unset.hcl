upstream "hr" {
  url    = env("GATEHOUSE_TEST_SURELY_UNSET") # ERROR: Unset environment variable
  prefix = "/hr"
}

app "portal" {
  api_key_sha256 = "${env("GATEHOUSE_TEST_SURELY_UNSET")}" # ERROR: Unset environment variable
}

upstream "files" {
  url    = file("no-such-file.txt") # ERROR: Unreadable file
  prefix = "/files"
}
