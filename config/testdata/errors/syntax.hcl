# Syntax errors stop loading before any function is evaluated: the unset
# variable below is not reported.
upstream "hr" {
  url    = env("GATEHOUSE_TEST_SURELY_UNSET")
  prefix = "/hr"
}

role "reader" {
  allow "hr" { # ERROR: Unclosed configuration block
    paths = ["/x"]
