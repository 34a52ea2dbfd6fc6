# API keys: several per app, labeled, with expiry (api_key blocks).

upstream "hr" {
  url    = "http://127.0.0.1:9001"
  prefix = "/hr"
}

role "reader" {
}

app "portal" {
  api_key_sha256 = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
  default_role   = "reader"

  api_key "2026-12" {
    sha256    = "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
    not_after = "2027-01-31T00:00:00Z"
  }
  api_key "2026-12" { # ERROR: Duplicate API key label
    sha256 = "2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6"
  }
  api_key "again" {
    sha256 = "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d" # ERROR: Duplicate API key hash
  }
  api_key "ca978112" { # ERROR: Duplicate API key label
    sha256 = "18ac3e7343f016890c510e93f935261169d9e3f565436429830faf0934f4f8e4"
  }
  api_key "bad-hex" {
    sha256 = "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009g" # ERROR: Invalid API key hash
  }
  api_key "bad-time" {
    sha256    = "3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea"
    not_after = "2027-01-31" # ERROR: Invalid timestamp
  }
  api_key "no time zone" { # ERROR: Invalid name
    sha256    = "252f10c83610ebca1a059c0bae8255eba2f95be4d1d7bcfa89d7248a82d9f111"
    not_after = "2027-01-31T00:00:00" # ERROR: Invalid timestamp
  }
  api_key "no-hash" { # ERROR: Missing required argument
    not_after = "2027-01-31T00:00:00Z"
  }
  api_key "extra" {
    sha256  = "cd0aa9856147b6c5b4ff2b7dfee5da20aa38253099ef1b4a64aced233c9afe29"
    enabled = true # ERROR: Unsupported argument
  }
}

app "batch" {
  api_key "2026-12" {
    sha256 = "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d" # ERROR: Duplicate API key hash
  }
  api_key "old" {
    sha256 = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb" # ERROR: Duplicate API key hash
  }
}

app "nokey" { # ERROR: Missing required argument
  default_role = "reader"
}
