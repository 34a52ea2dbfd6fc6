upstream "hr" {
  url    = "http://127.0.0.1:9002"
  prefix = "/hr"
}

cors "/hr/**" {
  origins         = ["https://portal.example.com", "https://*.apps.example.com", "http://localhost:3000"]
  methods         = ["GET", "PUT"]
  headers         = ["Authorization", "Content-Type", "X-API-Key"]
  exposed_headers = ["X-Request-Id"]
  max_age         = 600
  credentials     = true
}

# More specific: wins for /hr/public/...
cors "/hr/public/**" {
  origins = ["*"]
}

# Turns CORS off below /hr/admin, though /hr/** matches.
cors "/hr/admin/**" {
  origins = ["https://portal.example.com"]
  enabled = false
}
