# Policy tests of the OAuth example: gatehouse test --config examples/oauth
# (with the variables validate needs set; any values do: no provider is
# asked, a test names who logged in).

test "alice, a local user by email, may list employees" {
  request {
    app    = "portal"
    user   = "alice"
    method = "GET"
    target = "/hr/employees"
  }
  expect {
    status = 200
    grant  = "gatehouse.hcl:61"
  }
}

test "someone else from the SSO provider is a guest" {
  request {
    app      = "portal"
    user     = "8f2c41"
    provider = "sso"
    method   = "GET"
    target   = "/hr/employees"
  }
  expect {
    status = 403
    reason = "no_matching_grant"
  }
}

test "a guest reads the public pages" {
  request {
    app      = "portal"
    user     = "octocat"
    provider = "github"
    method   = "GET"
    target   = "/hr/public/holidays"
  }
  expect {
    status = 200
    grant  = "gatehouse.hcl:54"
  }
}

test "the web front end is public" {
  request {
    method = "GET"
    target = "/index.html"
  }
  expect {
    status = 200
    reason = "public_route"
  }
}

test "nobody may write employees" {
  request {
    app    = "portal"
    user   = "alice"
    method = "POST"
    target = "/hr/employees"
  }
  expect {
    decision = "deny"
  }
}

test "alice, signed in with her X account, has her own role" {
  request {
    app      = "portal"
    user     = "alice" # an X login's session is the mapped local user's
    provider = "x"
    method   = "GET"
    target   = "/hr/employees"
  }
  expect {
    status = 200
    grant  = "gatehouse.hcl:61"
  }
}
