sessions {
  signing_key = "too-short" # ERROR: Signing key too short
  refresh_ttl = "1m" # ERROR: Invalid duration
  cookie_secure = "maybe" # ERROR: Incorrect attribute value type
}

sessions { # ERROR: Duplicate sessions block
  signing_key = "another-signing-key-0123456789abcdef"
}

app "portal" {
  api_key_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
}

role "reader" {}

user "alice" {
  password_hash = "hunter2" # ERROR: Invalid password hash
  email         = "alice@example.test"
  roles         = { portal = "raeder", crm = "reader" } # ERROR: Unknown role; Unknown app
}

user "bob" {
  email = "ALICE@example.test" # ERROR: Duplicate email
}

user "alice" {} # ERROR: Duplicate user

admin "root" { # ERROR: Missing required argument
}

ldap "corp" {
  url         = "http://ldap.example.test" # ERROR: Invalid URL
  user_base   = "ou=people,dc=example,dc=test"
  user_filter = "(uid=*)" # ERROR: Invalid LDAP filter
  roles       = { portal = { staff = "nobody" } } # ERROR: Unknown role
}

ldap "tls" {
  url       = "ldaps://ldap.example.test"
  start_tls = true # ERROR: Conflicting TLS settings
  user_base = "ou=people,dc=example,dc=test"
}

oauth "corp" { # ERROR: Duplicate login provider
  provider      = "oidc"
  issuer        = "https://sso.example.test"
  client_id     = "x"
  client_secret = "y"
  redirect_url  = "https://api.example.test/auth/oauth/corp/callback"
  app           = "portal"
}

oauth "sso" { # ERROR: Missing issuer
  provider      = "oidc"
  client_id     = "x"
  client_secret = "y"
  redirect_url  = "https://api.example.test/auth/oauth/wrong/callback" # ERROR: Invalid URL
  app           = "portl" # ERROR: Unknown app
}

oauth "okta" { # ERROR: Unknown provider
  client_id     = "x"
  client_secret = "y"
  redirect_url  = "http://api.example.test/auth/oauth/okta/callback" # ERROR: Invalid URL
  app           = "portal"
}

ldap "nopw" { # ERROR: Empty value
  url          = "ldaps://ldap.example.test"
  bind_dn      = "cn=svc,dc=example,dc=test"
  user_base    = "ou=people,dc=example,dc=test"
  group_filter = "(&(member={dn})" # ERROR: Invalid LDAP filter
}
