# Quickstart: put gatehouse in front of an existing HTTP API.
#
#   export ORDERS_API_URL=http://127.0.0.1:9000     # the API you already run
#   export SHOP_KEY_SHA256=...                      # from `gatehouse keygen`
#   gatehouse validate --config examples/quickstart
#   gatehouse run --config examples/quickstart

server {
  listen       = "127.0.0.1:8080"
  admin_listen = "127.0.0.1:9901" # /healthz, /readyz and /metrics; keep it off the public network
  production   = true             # clients get a status, a message and a request id; details go to the log
}

upstream "orders" {
  url     = env("ORDERS_API_URL")
  prefix  = "/orders" # GET /orders/123 reaches the API as GET /123
  timeout = "15s"
}

upstream "health" {
  url    = "${env("ORDERS_API_URL")}/health" # GET /health reaches the API's /health
  prefix = "/health"
  public = true # no API key: for load balancer checks
}

app "shop_frontend" {
  api_key_sha256 = env("SHOP_KEY_SHA256")
  default_role   = "catalog_reader"
}

role "catalog_reader" {
  allow "orders" {
    paths = ["/", "/*"]
    verbs = ["GET", "HEAD"]
  }
  deny "orders" {
    paths = ["/*/payment"]
    verbs = ["GET", "HEAD"]
  }
}
