# Policy tests of the LDAP example: gatehouse test --config examples/ldap
# (with GATEHOUSE_SIGNING_KEY, PORTAL_KEY_SHA256, LDAP_URL and
# LDAP_BIND_PASSWORD set as for validate; any values do: no directory is
# asked, a test names the groups a directory would answer).

test "without a session the portal is a guest" {
  request {
    app    = "portal"
    method = "GET"
    target = "/hr/public/holidays"
  }
  expect {
    status = 200
    grant  = "gatehouse.hcl:36"
  }
}

test "a guest may not list employees" {
  request {
    app    = "portal"
    method = "GET"
    target = "/hr/employees"
  }
  expect {
    status = 403
    reason = "no_matching_grant"
  }
}

test "hr-staff may list employees" {
  request {
    app         = "portal"
    user        = "bob"
    provider    = "corp"
    ldap_groups = ["hr-staff"]
    method      = "GET"
    target      = "/hr/employees"
  }
  expect {
    status = 200
    grant  = "gatehouse.hcl:43"
  }
}

test "hr-staff may not read salaries" {
  request {
    app         = "portal"
    user        = "bob"
    provider    = "corp"
    ldap_groups = ["hr-staff"]
    method      = "GET"
    target      = "/hr/employees/7/salary"
  }
  expect {
    status = 403
    reason = "grant_denied"
    grant  = "gatehouse.hcl:47"
  }
}

test "hr-admins may update salaries" {
  request {
    app         = "portal"
    user        = "carol"
    provider    = "corp"
    ldap_groups = ["staff", "HR-Admins"]
    method      = "PUT"
    target      = "/hr/employees/7/salary"
  }
  expect {
    status = 200
    grant  = "gatehouse.hcl:54"
  }
}

test "a directory user in no mapped group is a guest" {
  request {
    app         = "portal"
    user        = "dave"
    provider    = "corp"
    ldap_groups = ["engineering"]
    method      = "GET"
    target      = "/hr/employees"
  }
  expect {
    decision = "deny"
    reason   = "no_matching_grant"
  }
}
