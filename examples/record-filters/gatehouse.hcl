# Record filters: callers of the HR API see only the employees of their
# department up to a level, and may only create such employees. The HR API
# itself knows nothing about users: it trusts gatehouse, which holds its
# token. See README.md next to this file and docs/filters.md.
#
#   export PORTAL_KEY_SHA256=...       # from `gatehouse keygen`
#   export HR_API_TOKEN=...            # the HR API's own token
#   export GATEHOUSE_SIGNING_KEY=...   # openssl rand -base64 48
#   gatehouse validate --config examples/record-filters
#   gatehouse run --config examples/record-filters

server {
  listen       = "127.0.0.1:8080"
  admin_listen = "127.0.0.1:9901"
  production   = true
}

sessions {
  signing_key = env("GATEHOUSE_SIGNING_KEY")
}

# System scope: the default for every caller.
lookups {
  max_level = 3
}

# Sent to the HR API in a header; never printed, never seen by clients.
secret_lookups {
  hr_api_token = env("HR_API_TOKEN")
}

upstream "hr" {
  url    = "http://127.0.0.1:9002"
  prefix = "/hr"
  headers = {
    "Authorization" = "Bearer {lookup.hr_api_token}"
    "X-Tenant"      = "{lookup.tenant}"
  }
}

app "portal" {
  api_key_sha256 = env("PORTAL_KEY_SHA256")
  default_role   = "dept_reader"
  lookups        = { tenant = "acme" }
}

role "dept_reader" {
  lookups = { department = "sales" }

  # The list: {"data":[…],"total":N}. Records are the elements of "data".
  allow "hr" {
    paths   = ["/employees"]
    verbs   = ["GET", "HEAD"]
    records = "data"
    filter  = "record.department == lookup.department && record.level <= lookup.max_level"
    # Salaries are for HR managers (below): removed from every record.
    hide_fields = ["salary"]
  }

  # Creating one: the request body and the 201 answer are single objects,
  # so this grant has no records path.
  allow "hr" {
    paths  = ["/employees"]
    verbs  = ["POST"]
    filter = "record.department == lookup.department && record.level <= lookup.max_level"
    # A body that sets a salary is refused (403 field_refused_write).
    hide_fields = ["salary"]
  }

  # One employee: a single object, shown whole or not at all.
  allow "hr" {
    paths       = ["/employees/*"]
    verbs       = ["GET", "HEAD"]
    filter      = "record.department == lookup.department && record.level <= lookup.max_level"
    hide_fields = ["salary"]
  }
}

# HR managers read every employee, salaries included: the same paths as
# dept_reader, without a filter and without hidden fields.
role "hr_manager" {
  allow "hr" {
    paths = ["/employees", "/employees/*"]
    verbs = ["GET", "HEAD"]
  }
}

# A local user whose own lookups win over the role's and the system's.
# Password: "correct horse" (an example: make your own with `gatehouse hash-password`).
user "olga" {
  password_hash = "$argon2id$v=19$m=65536,t=3,p=4$R5Hllh6BYg4IhzZ5t+E+Hg$Ybsind8cfqZ0qUoIDT0qV9+CiSKdiHhpwy86d3VIBrc"
  roles         = { portal = "dept_reader" }
  lookups       = { department = "ops", max_level = 5 }
}

# An HR manager. Password: "correct horse" too.
user "mia" {
  password_hash = "$argon2id$v=19$m=65536,t=3,p=4$R5Hllh6BYg4IhzZ5t+E+Hg$Ybsind8cfqZ0qUoIDT0qV9+CiSKdiHhpwy86d3VIBrc"
  roles         = { portal = "hr_manager" }
}
