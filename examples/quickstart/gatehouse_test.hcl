# Policy tests of the quickstart: `gatehouse test --config examples/quickstart`
# (set ORDERS_API_URL and SHOP_KEY_SHA256 as for validate; any values do).

test "the shop frontend may read orders" {
  request {
    app    = "shop_frontend"
    method = "GET"
    target = "/orders/123"
  }
  expect {
    status = 200
    reason = "grant_allowed"
    grant  = "gatehouse.hcl:32"
  }
}

test "payment details are denied" {
  request {
    app    = "shop_frontend"
    method = "GET"
    target = "/orders/123/payment"
  }
  expect {
    status = 403
    reason = "grant_denied"
    grant  = "gatehouse.hcl:36"
  }
}

test "the shop frontend may not cancel orders" {
  request {
    app    = "shop_frontend"
    method = "DELETE"
    target = "/orders/123"
  }
  expect {
    decision = "deny"
    reason   = "no_matching_grant"
  }
}

test "orders need an API key" {
  request {
    method = "GET"
    target = "/orders/123"
  }
  expect {
    status = 401
    reason = "missing_api_key"
  }
}

test "the health check is public" {
  request {
    method = "GET"
    target = "/health"
  }
  expect {
    status = 200
    reason = "public_route"
  }
}

test "dot segments are refused" {
  request {
    app    = "shop_frontend"
    method = "GET"
    target = "/orders/%2e%2e/admin"
  }
  expect {
    status = 400
    reason = "bad_path"
  }
}
