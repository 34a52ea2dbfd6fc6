# Expressions other than literals: templates, conditionals, non-literal
# lists and objects.
lookups {
  greeting = "hello-${env("GATEHOUSE_TEST_REGION")}"
}

upstream "hr" {
  url    = "http://127.0.0.1:${9000 + 2}"
  prefix = "/hr"
}

app "portal" {
  api_key_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
  default_role   = "reader"
  lookups        = true ? { tier = "gold" } : {}
}

role "reader" {
  allow "hr" {
    paths = [for p in ["a", "b"] : "/${p}/**"]
    verbs = true ? ["GET"] : []
  }
}
