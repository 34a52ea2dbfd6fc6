# Users, admins, sessions and login providers.
sessions {
  signing_key = "test-signing-key-0123456789abcdef0123"
  ttl         = "15m"
  refresh_ttl = "24h"
  cache_size  = 1000
  issuer      = "gatehouse-test"
}

upstream "hr" {
  url    = "http://127.0.0.1:9002"
  prefix = "/hr"
}

app "portal" {
  api_key_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
  default_role   = "guest"
}

role "guest" {
  allow "hr" {
    paths = ["/public/**"]
    verbs = ["GET"]
  }
}

role "hr_reader" {
  allow "hr" {
    paths = ["/employees", "/employees/*"]
    verbs = ["GET"]
  }
}

user "alice" {
  password_hash = "$argon2id$v=19$m=64,t=1,p=1$glHZxQq8cpfxAvvDIqJVuA$4TvUgTg+Pzl3YZC7RJ+23SqeZ7E/fBOYFaJKIeaPQto"
  email         = "alice@example.test"
  roles         = { portal = "hr_reader" }
  lookups       = { department = "sales", max_level = 3 }
}

user "carol" {
  email  = "carol@example.test" # OAuth only: no password
  active = false
}

admin "root" {
  password_hash = "$argon2id$v=19$m=64,t=1,p=1$UZLs6V8VqM9HG5KDyprApw$ZHoHwmi+k5cXB/d39IWZpWLU9Bk2HnkL0llgiLMyfbM"
}

ldap "corp" {
  url           = "ldap://127.0.0.1:3389"
  bind_dn       = "cn=svc,dc=example,dc=test"
  bind_password = "svcpw"
  user_base     = "ou=people,dc=example,dc=test"
  user_filter   = "(uid={username})"
  group_base    = "ou=groups,dc=example,dc=test"
  roles = {
    portal = { "hr-admins" = "hr_reader", "hr-staff" = "guest" }
  }
  default_role = "guest"
}

oauth "sso" {
  provider      = "oidc"
  issuer        = "https://sso.example.test/realms/main"
  client_id     = "gatehouse"
  client_secret = "not-a-secret"
  redirect_url  = "https://api.example.test/auth/oauth/sso/callback"
  app           = "portal"
  default_role  = "guest"
}

oauth "github" {
  client_id     = "gh-id"
  client_secret = "gh-secret"
  redirect_url  = "https://api.example.test/auth/oauth/github/callback"
  app           = "portal"
}

lookups {
  company = "example"
}

secret_lookups {
  partner_token = "not-a-real-token"
}

role "sales_reader" {
  lookups = { max_level = 3 }
  allow "hr" {
    paths   = ["/employees"]
    verbs   = ["GET"]
    records = "data"
    filter  = "record.department == lookup.department && record.level <= lookup.max_level"
  }
}
