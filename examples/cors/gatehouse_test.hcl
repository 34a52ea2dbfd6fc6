# Policy tests of the CORS example: gatehouse test --config examples/cors
# (with PORTAL_KEY_SHA256 set as for validate; any value does). The tests
# check grants; CORS headers are not part of a test (docs/policy-testing.md).

test "the portal may update an employee" {
  request {
    app    = "portal"
    method = "PUT"
    target = "/hr/employees/7"
  }
  expect {
    status = 200
    grant  = "gatehouse.hcl:32"
  }
}

test "the portal may not delete an employee" {
  request {
    app    = "portal"
    method = "DELETE"
    target = "/hr/employees/7"
  }
  expect {
    status = 403
    reason = "no_matching_grant"
  }
}

test "the status is public" {
  request {
    method = "GET"
    target = "/status"
  }
  expect {
    status = 200
    reason = "public_route"
  }
}
