# tls_listen needs a tls block that says which certificate to serve.
server {
  tls_listen = ":8443" # ERROR: Missing tls block
}
