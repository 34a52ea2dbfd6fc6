# Automatic HTTPS: gatehouse gets and renews its certificate from Let's Encrypt.
#
#   Replace api.example.com with your name (its A/AAAA records point at this host),
#   open TCP 80 and 443 to everyone, then:
#   export ORDERS_API_URL=http://127.0.0.1:9000     # the API you already run
#   export SHOP_KEY_SHA256=...                      # from `gatehouse keygen`
#   gatehouse validate --config examples/acme
#   gatehouse run --config examples/acme           # needs CAP_NET_BIND_SERVICE for 80/443
#
# See docs/tls.md for the production checklist, rate limits and troubleshooting.

server {
  listen       = ":80"            # ACME HTTP-01 challenges, and 308 redirects to HTTPS; nothing else
  tls_listen   = ":443"           # the API over HTTPS (TLS 1.2+, HTTP/2)
  admin_listen = "127.0.0.1:9901" # never open this one in the firewall
}

tls {
  # One year of Strict-Transport-Security; "0s" while you are still trying things out.
  hsts_max_age = "8760h"

  acme {
    email   = "ops@example.com"
    domains = ["api.example.com"] # the only names gatehouse will ever ask a certificate for
    # Staging first: untrusted certificates, generous rate limits. Remove this line for
    # Let's Encrypt production, then restart.
    directory = "https://acme-staging-v02.api.letsencrypt.org/directory"
    # Account key and certificates (0700); keep it across deploys and restarts.
    cache_dir = "/var/lib/gatehouse/acme"
  }
}

upstream "orders" {
  url    = env("ORDERS_API_URL")
  prefix = "/orders"
}

app "shop_frontend" {
  api_key_sha256 = env("SHOP_KEY_SHA256")
  default_role   = "order_reader"
}

role "order_reader" {
  allow "orders" {
    paths = ["/", "/*"]
    verbs = ["GET", "HEAD"]
  }
}
