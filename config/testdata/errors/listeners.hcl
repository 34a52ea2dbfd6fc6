# The admin API must never share the public listener. The overlap is still
# reported when another server attribute is wrong.
server {
  listen       = ":9000"
  admin_listen = "127.0.0.1:9000" # ERROR: Invalid address
  idle_timeout = "forever" # ERROR: Invalid duration
  shutdown_delay = "-5s" # ERROR: Invalid duration
  admin_token_sha256 = "gh_admin_pasted-the-token-itself" # ERROR: Invalid admin token hash
}
