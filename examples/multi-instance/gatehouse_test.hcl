# Policy tests of the multi-instance example:
#   gatehouse test --config examples/multi-instance
# (with GATEHOUSE_LISTEN, GATEHOUSE_ADMIN_LISTEN and GATEHOUSE_SIGNING_KEY set
# as run.sh sets them; any values do: no Redis is asked, nothing listens).

test "the demo app may read the API" {
  request {
    app    = "demo"
    method = "GET"
    target = "/api/small"
  }
  expect {
    status = 200
    grant  = "gatehouse.hcl:46"
  }
}

test "alice may not write" {
  request {
    app    = "demo"
    user   = "alice"
    method = "POST"
    target = "/api/small"
  }
  expect {
    status = 403
    reason = "no_matching_grant"
  }
}

test "the admin bypasses grants" {
  request {
    admin  = "root"
    method = "DELETE"
    target = "/api/small"
  }
  expect {
    status = 200
    reason = "admin"
  }
}
