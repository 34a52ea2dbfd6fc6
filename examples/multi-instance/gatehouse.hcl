# Two (or more) gatehouse instances as one, sharing their state through Redis.
# Every instance runs this same file; only the listeners differ, so they come
# from the environment (run.sh sets them per instance).
#
#   GATEHOUSE_LISTEN        public listener, e.g. 127.0.0.1:8081
#   GATEHOUSE_ADMIN_LISTEN  admin listener, e.g. 127.0.0.1:9911
#   GATEHOUSE_SIGNING_KEY   the sessions HMAC key: the SAME on every instance
#                           (openssl rand -base64 48)
#
# Example-only credentials (do not reuse them):
#   app "demo" key:  gh_multi-instance-example-key-not-a-secret
#   user "alice":    alice-example-password
#   admin "root":    root-example-password

server {
  listen       = env("GATEHOUSE_LISTEN")
  admin_listen = env("GATEHOUSE_ADMIN_LISTEN")
  # nginx in front: take the client address from its X-Forwarded-For.
  trusted_proxies = ["127.0.0.1/32"]
}

# The shared state: revocations (logout, refresh), OAuth states, failed-login
# budgets, ACME certificates. See docs/operations.md, "Running several instances".
cluster {
  redis      = "redis://127.0.0.1:6390"
  key_prefix = "gatehouse-example:"
}

sessions {
  signing_key = env("GATEHOUSE_SIGNING_KEY")
  ttl         = "15m"
  refresh_ttl = "8h"
}

upstream "api" {
  url    = "http://127.0.0.1:8090" # go run ./bench/upstream -addr 127.0.0.1:8090
  prefix = "/api"                  # GET /api/small reaches the upstream as GET /small
}

app "demo" {
  api_key_sha256 = "3e529061d0c70a3c33366eebcabce48652b2c62d8aadc406312dcc41972e5a6e"
  default_role   = "reader"
}

role "reader" {
  allow "api" {
    paths = ["/**"]
    verbs = ["GET"]
  }
}

user "alice" {
  password_hash = "$argon2id$v=19$m=65536,t=3,p=4$Qf0E/exo1UObiWQzBeGEvw$USwktuX7JqLRU6Ya2yCcRMp8RMwY/c/tGqrvurDfEDs"
  roles         = { demo = "reader" }
}

admin "root" {
  password_hash = "$argon2id$v=19$m=65536,t=3,p=4$WvxH4rM8TRSu4qQdnFWQYg$ajNJ3GDxbST6N1DQhRGxH60I1gCXxBLnIVggs9WyIZU"
}
