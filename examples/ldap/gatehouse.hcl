# LDAP logins: people log in with their directory password, and their
# directory groups decide their role in the portal app.
#
#   export GATEHOUSE_SIGNING_KEY="$(openssl rand -base64 48)"
#   export PORTAL_KEY_SHA256=...            # from `gatehouse keygen`
#   export LDAP_URL=ldaps://ldap.example.test
#   export LDAP_BIND_PASSWORD=...           # the service account's password
#   gatehouse validate --config examples/ldap
#   gatehouse run --config examples/ldap
#
# See README.md next to this file, and docs/auth.md.

server {
  listen       = "127.0.0.1:8080"
  admin_listen = "127.0.0.1:9901"
  production   = true
}

sessions {
  signing_key = env("GATEHOUSE_SIGNING_KEY") # at least 32 bytes: openssl rand -base64 48
  ttl         = "1h"                         # lifetime of one token
  refresh_ttl = "12h"                        # a login can be refreshed for this long
}

upstream "hr" {
  url    = "http://127.0.0.1:9002" # the HR API
  prefix = "/hr"
}

app "portal" {
  api_key_sha256 = env("PORTAL_KEY_SHA256")
  default_role   = "guest" # requests without a session, and directory users in no mapped group
}

role "guest" {
  allow "hr" {
    paths = ["/public/**"]
    verbs = ["GET", "HEAD"]
  }
}

role "hr_reader" {
  allow "hr" {
    paths = ["/public/**", "/employees", "/employees/*"]
    verbs = ["GET", "HEAD"]
  }
  deny "hr" {
    paths = ["/employees/*/salary"]
    verbs = ["GET", "HEAD"]
  }
}

role "hr_editor" {
  allow "hr" {
    paths = ["/public/**", "/employees", "/employees/**"]
    verbs = ["GET", "HEAD", "POST", "PUT", "PATCH"]
  }
}

ldap "corp" {
  url           = env("LDAP_URL") # ldaps://host[:port], or ldap:// with start_tls = true
  bind_dn       = "cn=svc,dc=example,dc=test"
  bind_password = env("LDAP_BIND_PASSWORD")
  user_base     = "ou=people,dc=example,dc=test"
  user_filter   = "(uid={username})" # Active Directory: "(sAMAccountName={username})"
  group_base    = "ou=groups,dc=example,dc=test"
  group_filter  = "(member={dn})"
  # Per app, group = role. The first group in this list that the user is
  # in decides, so put the most powerful group first.
  roles = {
    portal = {
      "hr-admins" = "hr_editor"
      "hr-staff"  = "hr_reader"
    }
  }
  default_role = "guest"
  # Attributes of the user's entry, captured at login as user-scope lookups
  # for record filters (lookup.department) and upstream header templates
  # ({lookup.department}); see docs/filters.md. An attribute with several
  # values, or none, gives no value: filters comparing with it hide.
  lookups = { department = "departmentNumber", region = "l" }
}
