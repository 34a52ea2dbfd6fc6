# Automatic HTTPS. cache_dir is relative to this file and does not exist:
# validation checks that it could be created, and creates nothing.
server {
  listen       = ":8080"
  tls_listen   = ":8443"
  admin_listen = "127.0.0.1:9901"
}

tls {
  hsts_max_age            = "8760h"
  hsts_include_subdomains = false
  acme {
    email     = "ops@example.com"
    domains   = ["api.example.com", "www.example.com"]
    directory = "https://acme-staging-v02.api.letsencrypt.org/directory"
    cache_dir = "acme-cache"
  }
}
