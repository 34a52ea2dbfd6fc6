# Built-in demo config, served by `gatehouse demo`. The demo command starts
# an in-process "HR" API on a free loopback port and generates two API keys;
# env() brings their hashes and the API's address in.

server {
  listen          = env("GATEHOUSE_DEMO_LISTEN")
  admin_listen    = env("GATEHOUSE_DEMO_ADMIN")
  production      = false # show decision reasons in error bodies
  max_body_bytes  = 1048576
}

upstream "hr" {
  url     = env("GATEHOUSE_DEMO_UPSTREAM")
  prefix  = "/hr"
  timeout = "5s"
}

upstream "status" {
  url    = env("GATEHOUSE_DEMO_UPSTREAM")
  prefix = "/status"
  public = true # no API key needed
}

sessions {
  signing_key = env("GATEHOUSE_DEMO_SIGNING_KEY") # random for every demo run
  ttl         = "1h"
}

# A local user: logged in through the portal app, ada is an hr_manager
# there (the app's guests are only an employee_directory).
user "ada" {
  password_hash = env("GATEHOUSE_DEMO_ADA_HASH")
  roles         = { portal = "hr_manager" }
}

app "portal" {
  api_key_sha256 = env("GATEHOUSE_DEMO_PORTAL_SHA256")
  default_role   = "employee_directory"
}

app "backoffice" {
  api_key_sha256 = env("GATEHOUSE_DEMO_BACKOFFICE_SHA256")
  default_role   = "hr_manager"
}

role "employee_directory" {
  allow "hr" {
    paths = ["/employees", "/employees/*"]
    verbs = ["GET", "HEAD"]
  }
  deny "hr" {
    paths = ["/employees/*/salary"]
    verbs = ["GET"]
  }
}

role "hr_manager" {
  allow "hr" {
    paths = ["/employees/**"]
    verbs = ["GET", "HEAD", "POST", "PUT"]
  }
}
