sessions {
  signing_key = "test-signing-key-0123456789abcdef0123"
}

app "portal" {
  api_key_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
}

role "guest" {}

user "alice" {}

user "Alice" {}

oauth "x" { # ERROR: Missing required argument
  client_id     = "x-client"
  client_secret = "x-secret"
  redirect_url  = "https://api.example.test/auth/oauth/x/callback"
  app           = "portal"
  default_role  = "guest" # ERROR: Setting not used
  end_session   = true # ERROR: Setting not used
}

oauth "x2" {
  provider      = "x"
  client_id     = "x-client"
  client_secret = "x-secret"
  redirect_url  = "https://api.example.test/auth/oauth/x2/callback"
  auth_url      = "http://x.example.test/i/oauth2/authorize" # ERROR: Invalid URL
  token_url     = "ftp://api.x.example.test/2/oauth2/token" # ERROR: Invalid URL
  api_url       = "http://api.x.example.test/2" # ERROR: Invalid URL
  app           = "portal"
  users = {
    "jack"       = "alice" # ERROR: Invalid account id
    "0123"       = "alice" # ERROR: Invalid account id
    "2244994945" = "alicia" # ERROR: Unknown user
    "12"         = "alice"
    "12"         = "Alice" # ERROR: Duplicate key
  }
  match_username = true # ERROR: Ambiguous username match
}

oauth "x3" {
  provider                   = "x"
  client_id                  = "x-client"
  token_endpoint_auth_method = "private_key_jwt" # ERROR: Invalid token_endpoint_auth_method; Missing required argument
  redirect_url               = "https://api.example.test/auth/oauth/x3/callback"
  app                        = "portal"
  users                      = "alice" # ERROR: Incorrect attribute value type
}

oauth "github" {
  client_id      = "gh-client"
  client_secret  = "gh-secret"
  redirect_url   = "https://api.example.test/auth/oauth/github/callback"
  app            = "portal"
  users          = { "12" = "alice" } # ERROR: Setting not used
  match_username = true # ERROR: Setting not used
}
