# Policy tests of the record-filters example:
#   gatehouse test --config examples/record-filters
# (with PORTAL_KEY_SHA256, HR_API_TOKEN and GATEHOUSE_SIGNING_KEY set as for
# validate; any values do: the tests never send the token anywhere, and a
# failure never prints a header read from a lookup).
#
# records: the indexes (0, 1, …) of the records of `response` that the
# deciding grant's filter keeps, in document order.

test "the portal sees the sales employees up to level 3" {
  request {
    app    = "portal"
    method = "GET"
    target = "/hr/employees"
  }
  expect {
    status = 200
    grant  = "gatehouse.hcl:51"
    response = jsonencode({
      data = [
        { id = 1, department = "sales", level = 2 },
        { id = 2, department = "ops", level = 2 },
        { id = 3, department = "sales", level = 4 },
        { id = 4, department = "sales", level = 3 },
      ]
      total = 4
    })
    records = [0, 3]
  }
}

test "olga's own lookups win: ops up to level 5" {
  request {
    app    = "portal"
    user   = "olga"
    method = "GET"
    target = "/hr/employees"
  }
  expect {
    status = 200
    response = jsonencode({
      data = [
        { id = 1, department = "sales", level = 2 },
        { id = 2, department = "ops", level = 5 },
        { id = 3, department = "ops", level = 6 },
      ]
    })
    records = [1]
  }
}

test "the HR API gets the tenant of the app" {
  request {
    app    = "portal"
    method = "GET"
    target = "/hr/employees"
  }
  expect {
    status           = 200
    upstream_headers = { "X-Tenant" = "acme" }
  }
}

test "an employee of another department is hidden" {
  request {
    app    = "portal"
    method = "GET"
    target = "/hr/employees/2"
  }
  expect {
    status   = 404
    reason   = "filter_hidden_record"
    grant    = "gatehouse.hcl:71"
    response = jsonencode({ id = 2, department = "ops", level = 1 })
    records  = []
  }
}

test "the portal may create a sales employee" {
  request {
    app     = "portal"
    method  = "POST"
    target  = "/hr/employees"
    headers = { "Content-Type" = "application/json" }
    body    = jsonencode({ name = "Ada", department = "sales", level = 1 })
  }
  expect {
    status = 200
    grant  = "gatehouse.hcl:62"
  }
}

test "the portal may not create an employee of another department" {
  request {
    app     = "portal"
    method  = "POST"
    target  = "/hr/employees"
    headers = { "Content-Type" = "application/json" }
    body    = jsonencode({ name = "Bob", department = "ops", level = 1 })
  }
  expect {
    status = 403
    reason = "filter_refused_write"
  }
}

test "deleting is not granted" {
  request {
    app    = "portal"
    method = "DELETE"
    target = "/hr/employees/1"
  }
  expect {
    decision = "deny"
    reason   = "no_matching_grant"
  }
}

test "the portal does not see salaries" {
  request {
    app    = "portal"
    method = "GET"
    target = "/hr/employees"
  }
  expect {
    status        = 200
    hidden_fields = ["salary"]
  }
}

test "the portal may not set a salary" {
  request {
    app     = "portal"
    method  = "POST"
    target  = "/hr/employees"
    headers = { "Content-Type" = "application/json" }
    body    = jsonencode({ name = "Ada", department = "sales", level = 1, Salary = 9000 })
  }
  expect {
    status = 403
    reason = "field_refused_write"
  }
}

test "mia, an HR manager, sees salaries" {
  request {
    app    = "portal"
    user   = "mia"
    method = "GET"
    target = "/hr/employees"
  }
  expect {
    status        = 200
    grant         = "gatehouse.hcl:82"
    hidden_fields = []
  }
}
