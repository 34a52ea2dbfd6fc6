# gatehouse config for bench/run.sh (see bench/README.md).
#
# Every upstream points at the one bench upstream (bench/upstream), so all
# targets forward to the same origin. Fixed addresses, rewritten by run.sh when
# the matching environment variable is set:
#   127.0.0.1:9000  bench upstream        (UPSTREAM_PORT)
#   127.0.0.1:9004  gatehouse listener    (GATEHOUSE_PORT)
#   127.0.0.1:9005  gatehouse admin       (GATEHOUSE_ADMIN_PORT)
#
# Bench-only API key for app "bench" (not a secret; never use it elsewhere):
#   X-API-Key: gatehouse-bench-key-0001-not-a-secret
# api_key_sha256 below is the hex SHA-256 of exactly that string:
#   printf %s 'gatehouse-bench-key-0001-not-a-secret' | sha256sum
#
# Bench-only user "bench" (password gatehouse-bench-user-password-not-a-secret)
# logs in through app "bench" for the gatehouse-session target, which sends
# the API key and the session token; the user's role is "reader" as well, so
# the two targets differ only in session handling.
#
# Role "reader" carries the one grant the benchmark exercises
# (allow "api" /** GET) plus about fifty realistic grants and two denies, so
# authorization runs against a policy of realistic size rather than a single
# rule. The other apps and roles exist for the same reason.

server {
  listen       = "127.0.0.1:9004"
  admin_listen = "127.0.0.1:9005"
  production   = true
}

upstream "plain" {
  url    = "http://127.0.0.1:9000"
  prefix = "/plain"
  public = true
}

upstream "api" {
  url    = "http://127.0.0.1:9000"
  prefix = "/api"
}

# The same upstream behind a record filter, for the gatehouse-filtered
# target (REQ_PATH=/records?n=1000): every record passes the filter, so the
# response is byte-for-byte the unfiltered one and the two routes differ
# only in the filtering work.
upstream "filtered" {
  url    = "http://127.0.0.1:9000"
  prefix = "/filtered"
}

upstream "hr" {
  url    = "http://127.0.0.1:9000"
  prefix = "/hr"
}

upstream "crm" {
  url    = "http://127.0.0.1:9000"
  prefix = "/crm"
}

upstream "billing" {
  url    = "http://127.0.0.1:9000"
  prefix = "/billing"
}

upstream "inventory" {
  url    = "http://127.0.0.1:9000"
  prefix = "/inventory"
}

upstream "reports" {
  url    = "http://127.0.0.1:9000"
  prefix = "/reports"
}

sessions {
  signing_key = "gatehouse-bench-signing-key-0001-not-a-secret"
  ttl         = "24h"
}

user "bench" {
  password_hash = "$argon2id$v=19$m=65536,t=3,p=4$epuNclrSEE07f4XxqktmVA$X8YhRK5lq+hihJtSzE3mYlri2gQZAzxLxTQe464xl0w"
  roles         = { bench = "reader" }
}

app "bench" {
  api_key_sha256 = "fd3f6a9c92e22fe900df366c3a89cd13782caa119309ac323d3e0de154514032"
  default_role   = "reader"
}

# Other apps: random hashes whose keys nobody knows.
app "portal" {
  api_key_sha256 = "e996d6296b67cc85586f33d648a238173cdd374a4cada941cac7323b8a3b9844"
  default_role   = "guest"
}

app "mobile" {
  api_key_sha256 = "e186b8959ac885585b3f7efd40938f4d57f5da6610ed22911efde5f982bf29c7"
  default_role   = "guest"
}

app "batch" {
  api_key_sha256 = "81fb8eb93cb5f5e1ae3423a68c796a54a81a42d95f1a30f77d80bf4a1e693263"
  default_role   = "operator"
  active         = false
}

role "guest" {
  allow "api" {
    paths = ["/v1/status", "/v1/version"]
    verbs = ["GET", "HEAD"]
  }
  allow "inventory" {
    paths = ["/products", "/products/*"]
    verbs = ["GET"]
  }
}

role "operator" {
  allow "inventory" {
    paths = ["/**"]
    verbs = ["GET", "POST", "PUT", "PATCH", "DELETE"]
  }
  allow "reports" {
    paths = ["/**"]
    verbs = ["GET", "POST"]
  }
  deny "inventory" {
    paths = ["/suppliers/*/bank-details"]
    verbs = ["GET", "PUT"]
  }
}

role "reader" {
  lookups = { min_level = 1 }

  # The grant the benchmark exercises: GET /api/small -> /small.
  allow "api" {
    paths = ["/**"]
    verbs = ["GET"]
  }

  allow "filtered" {
    paths  = ["/**"]
    verbs  = ["GET"]
    filter = "record.level >= lookup.min_level"
  }

  allow "hr" {
    paths = ["/employees"]
    verbs = ["GET"]
  }

  allow "hr" {
    paths = ["/employees/*"]
    verbs = ["GET"]
  }

  allow "hr" {
    paths = ["/employees/*/manager"]
    verbs = ["GET"]
  }

  allow "hr" {
    paths = ["/employees/*/reports"]
    verbs = ["GET"]
  }

  allow "hr" {
    paths = ["/departments", "/departments/*"]
    verbs = ["GET"]
  }

  allow "hr" {
    paths = ["/departments/*/employees"]
    verbs = ["GET"]
  }

  allow "hr" {
    paths = ["/positions", "/positions/*"]
    verbs = ["GET"]
  }

  allow "hr" {
    paths = ["/holidays", "/holidays/*"]
    verbs = ["GET"]
  }

  allow "hr" {
    paths = ["/time-off/requests"]
    verbs = ["GET", "POST"]
  }

  allow "hr" {
    paths = ["/time-off/requests/*"]
    verbs = ["GET", "PATCH", "DELETE"]
  }

  allow "hr" {
    paths = ["/org-chart/**"]
    verbs = ["GET"]
  }

  allow "crm" {
    paths = ["/accounts"]
    verbs = ["GET", "POST"]
  }

  allow "crm" {
    paths = ["/accounts/*"]
    verbs = ["GET", "PUT", "PATCH"]
  }

  allow "crm" {
    paths = ["/accounts/*/contacts"]
    verbs = ["GET", "POST"]
  }

  allow "crm" {
    paths = ["/accounts/*/contacts/*"]
    verbs = ["GET", "PUT", "DELETE"]
  }

  allow "crm" {
    paths = ["/accounts/*/notes"]
    verbs = ["GET", "POST"]
  }

  allow "crm" {
    paths = ["/leads", "/leads/*"]
    verbs = ["GET"]
  }

  allow "crm" {
    paths = ["/leads/*/convert"]
    verbs = ["POST"]
  }

  allow "crm" {
    paths = ["/opportunities"]
    verbs = ["GET"]
  }

  allow "crm" {
    paths = ["/opportunities/*"]
    verbs = ["GET", "PATCH"]
  }

  allow "crm" {
    paths = ["/opportunities/*/stages/**"]
    verbs = ["GET"]
  }

  allow "crm" {
    paths = ["/search"]
    verbs = ["GET", "POST"]
  }

  allow "billing" {
    paths = ["/invoices"]
    verbs = ["GET"]
  }

  allow "billing" {
    paths = ["/invoices/*"]
    verbs = ["GET"]
  }

  allow "billing" {
    paths = ["/invoices/*/lines"]
    verbs = ["GET"]
  }

  allow "billing" {
    paths = ["/invoices/*/pdf"]
    verbs = ["GET", "HEAD"]
  }

  allow "billing" {
    paths = ["/customers/*/invoices"]
    verbs = ["GET"]
  }

  allow "billing" {
    paths = ["/customers/*/balance"]
    verbs = ["GET"]
  }

  allow "billing" {
    paths = ["/payments"]
    verbs = ["GET"]
  }

  allow "billing" {
    paths = ["/payments/*"]
    verbs = ["GET"]
  }

  allow "billing" {
    paths = ["/credit-notes", "/credit-notes/*"]
    verbs = ["GET"]
  }

  allow "billing" {
    paths = ["/tax-rates"]
    verbs = ["GET"]
  }

  allow "inventory" {
    paths = ["/products"]
    verbs = ["GET"]
  }

  allow "inventory" {
    paths = ["/products/*"]
    verbs = ["GET"]
  }

  allow "inventory" {
    paths = ["/products/*/variants", "/products/*/variants/*"]
    verbs = ["GET"]
  }

  allow "inventory" {
    paths = ["/warehouses", "/warehouses/*"]
    verbs = ["GET"]
  }

  allow "inventory" {
    paths = ["/warehouses/*/stock"]
    verbs = ["GET"]
  }

  allow "inventory" {
    paths = ["/warehouses/*/stock/*"]
    verbs = ["GET", "PATCH"]
  }

  allow "inventory" {
    paths = ["/transfers"]
    verbs = ["GET", "POST"]
  }

  allow "inventory" {
    paths = ["/transfers/*"]
    verbs = ["GET"]
  }

  allow "inventory" {
    paths = ["/suppliers/**"]
    verbs = ["GET"]
  }

  allow "reports" {
    paths = ["/sales/**"]
    verbs = ["GET"]
  }

  allow "reports" {
    paths = ["/finance/summary"]
    verbs = ["GET"]
  }

  allow "reports" {
    paths = ["/finance/monthly/*"]
    verbs = ["GET"]
  }

  allow "reports" {
    paths = ["/headcount", "/headcount/*"]
    verbs = ["GET"]
  }

  allow "reports" {
    paths = ["/exports"]
    verbs = ["POST"]
  }

  allow "reports" {
    paths = ["/exports/*"]
    verbs = ["GET", "DELETE"]
  }

  allow "api" {
    paths = ["/v1/status", "/v1/version"]
    verbs = ["GET", "HEAD"]
  }

  allow "api" {
    paths = ["/v1/uploads"]
    verbs = ["POST"]
  }

  allow "api" {
    paths = ["/v1/webhooks", "/v1/webhooks/*"]
    verbs = ["GET", "POST", "DELETE"]
  }

  deny "api" {
    paths = ["/internal/**", "/v1/admin/**"]
    verbs = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
  }

  deny "hr" {
    paths = ["/employees/*/salary", "/employees/*/ssn"]
    verbs = ["GET"]
  }
}
