# Every block and attribute this version supports, with non-default values.

server {
  listen              = "0.0.0.0:8081"
  admin_listen        = "127.0.0.1:9902"
  production          = false
  trusted_proxies     = ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]
  max_body_bytes      = 1048576
  max_header_bytes    = 32768
  identity_headers    = false
  read_header_timeout = "5s"
  read_timeout        = "30s"
  write_timeout       = "1m"
  idle_timeout        = "90s"
  shutdown_timeout    = "10s"
}

lookups {
  company = file("company.txt")
  region  = "eu"
  max     = 3
  ratio   = 0.5
  strict  = true
}

upstream "hr" {
  url     = "http://127.0.0.1:9002/api"
  prefix  = "/hr"
  timeout = "15s"
  active  = true
  public  = false
}

upstream "status" {
  url    = "https://status.internal"
  prefix = "/status"
  public = true
}

upstream "legacy" {
  url    = "http://[::1]:9003/"
  prefix = "/legacy/v1"
  active = false
}

app "portal" {
  api_key_sha256 = env("GATEHOUSE_TEST_PORTAL_SHA256")
  default_role   = "hr_reader"
  lookups        = { tenant = "t1", max_level = 3, beta = false }
  active         = true
}

app "batch" {
  api_key_sha256 = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
  active         = false
}

role "hr_reader" {
  active  = true
  lookups = { department = "sales" }

  allow "hr" {
    paths   = ["/employees", "/employees/*"]
    verbs   = ["GET", "HEAD"]
    records = "data"
  }

  deny "hr" {
    paths = ["/employees/*/salary"]
    verbs = ["GET"]
  }
}

role "admin_tools" {
  active = false
  allow "legacy" {
    paths = ["/**"]
    verbs = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
  }
}
