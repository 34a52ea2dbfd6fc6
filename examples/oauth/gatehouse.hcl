# OAuth / OpenID Connect logins: a browser signs in at an identity provider
# (Keycloak here, GitHub and X as other options) and comes back with a session
# cookie for the portal app.
#
#   export GATEHOUSE_SIGNING_KEY="$(openssl rand -base64 48)"
#   export PORTAL_KEY_SHA256=...                 # from `gatehouse keygen`
#   export GATEHOUSE_PUBLIC_URL=https://api.example.com   # no trailing slash
#   export OIDC_ISSUER=https://keycloak.example.com/realms/main
#   export OIDC_CLIENT_ID=gatehouse OIDC_CLIENT_SECRET=...
#   export GITHUB_CLIENT_ID=... GITHUB_CLIENT_SECRET=... X_CLIENT_ID=... X_CLIENT_SECRET=...
#   gatehouse validate --config examples/oauth
#   gatehouse run --config examples/oauth
#
# See README.md next to this file, and docs/auth.md.

server {
  listen       = "127.0.0.1:8080"
  admin_listen = "127.0.0.1:9901"
  production   = true
  # The TLS terminator in front of gatehouse (Caddy, nginx, a load balancer)
  # runs on this host; its X-Forwarded-For gives the client's address.
  trusted_proxies = ["127.0.0.1", "::1"]
}

sessions {
  signing_key = env("GATEHOUSE_SIGNING_KEY")
  ttl         = "1h"
  refresh_ttl = "12h"
  # Cookies are Secure (HTTPS only). For a trial over plain
  # http://127.0.0.1:8080 only:
  # cookie_secure = false
}

upstream "hr" {
  url    = "http://127.0.0.1:9002" # the HR API
  prefix = "/hr"
}

# The portal's web front end (HTML, JavaScript) on the same origin. Its pages
# load without a key; its API calls send X-API-Key, and the browser adds the
# session cookie. gatehouse answers /auth/ itself, so those paths never get here.
upstream "web" {
  url    = "http://127.0.0.1:3000"
  prefix = "/"
  public = true
}

app "portal" {
  api_key_sha256 = env("PORTAL_KEY_SHA256")
  default_role   = "guest"
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
}

# An OpenID Connect provider: Keycloak, Okta, Entra ID, Dex, Authentik, ...
# Register the redirect URL below at the provider, exactly.
oauth "sso" {
  provider      = "oidc"
  issuer        = env("OIDC_ISSUER") # serves /.well-known/openid-configuration
  client_id     = env("OIDC_CLIENT_ID")
  client_secret = env("OIDC_CLIENT_SECRET")
  redirect_url  = "${env("GATEHOUSE_PUBLIC_URL")}/auth/oauth/sso/callback"
  app           = "portal" # sessions from this provider are portal sessions
  default_role  = "guest"  # for people who are not a local user (below)
}

# GitHub: the block name is the provider, so provider = "github" may be left out.
oauth "github" {
  client_id     = env("GITHUB_CLIENT_ID")
  client_secret = env("GITHUB_CLIENT_SECRET")
  redirect_url  = "${env("GATEHOUSE_PUBLIC_URL")}/auth/oauth/github/callback"
  app           = "portal"
  default_role  = "guest"
}

# A person whose provider account has this email, verified by the provider,
# logs in as this user and gets this user's roles. No password: this user
# can log in only through a provider.
user "alice" {
  email = "alice@example.com"
  roles = { portal = "hr_reader" }
}

# X (formerly Twitter): X gives no email, so the block admits only the X
# accounts it maps to local users, here by X's numeric user id (which never
# changes; a username can). Replace the id with your account's: a refused
# sign-in (403 oauth_unknown_user) logs it.
oauth "x" {
  client_id     = env("X_CLIENT_ID") # the OAuth 2.0 Client ID
  client_secret = env("X_CLIENT_SECRET")
  redirect_url  = "${env("GATEHOUSE_PUBLIC_URL")}/auth/oauth/x/callback"
  app           = "portal"
  users = {
    "2244994945" = "alice"
  }
}
