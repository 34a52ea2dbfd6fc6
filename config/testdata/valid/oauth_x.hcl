# X (Twitter) sign-in: accounts mapped to local users by X user id, and by
# username for a second block.
sessions {
  signing_key = "test-signing-key-0123456789abcdef0123"
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

user "alice" {
  roles = { portal = "guest" }
}

user "bob" {}

oauth "x" {
  client_id     = "x-client"
  client_secret = "x-secret"
  redirect_url  = "https://api.example.test/auth/oauth/x/callback"
  app           = "portal"
  users = {
    "2244994945" = "alice"
    783214       = "bob"
  }
}

oauth "x-test" {
  provider       = "x"
  client_id      = "x-client"
  client_secret  = "x-secret"
  redirect_url   = "http://127.0.0.1:8080/auth/oauth/x-test/callback"
  auth_url       = "http://127.0.0.1:9000/authorize"
  token_url      = "http://127.0.0.1:9000/token"
  api_url        = "http://127.0.0.1:9000/2"
  scopes         = ["tweet.read", "users.read", "offline.access"]
  app            = "portal"
  match_username = true
}
