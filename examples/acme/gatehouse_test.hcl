# Policy tests of the ACME example: gatehouse test --config examples/acme
# (with ORDERS_API_URL and SHOP_KEY_SHA256 set as for validate; any values
# do: no certificate is ordered, nothing listens).

test "the shop frontend may read orders" {
  request {
    app    = "shop_frontend"
    method = "GET"
    target = "/orders/42"
  }
  expect {
    status = 200
    grant  = "gatehouse.hcl:44"
  }
}

test "the shop frontend may not create orders" {
  request {
    app    = "shop_frontend"
    method = "POST"
    target = "/orders"
  }
  expect {
    status = 403
    reason = "no_matching_grant"
  }
}
