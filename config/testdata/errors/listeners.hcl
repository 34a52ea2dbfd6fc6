# The admin API must never share the public listener. The overlap is still
# reported when another server attribute is wrong.
server {
  listen       = ":9000"
  admin_listen = "127.0.0.1:9000" # ERROR: Invalid address
  idle_timeout = "forever" # ERROR: Invalid duration
}
