# body_buffer_bytes = 0 streams every request body.

server {
  body_buffer_bytes = 0
}

upstream "api" {
  url    = "http://127.0.0.1:9000"
  prefix = "/"
}
