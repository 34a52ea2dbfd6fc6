# Key rotation: an app with its old unlabeled key and two labeled ones.

upstream "hr" {
  url    = "http://127.0.0.1:9001"
  prefix = "/hr"
}

role "reader" {
  allow "hr" {
    paths = ["/**"]
    verbs = ["GET"]
  }
}

app "portal" {
  api_key_sha256 = "94eeb7bbe979dd0d2f0bb085172b76a1bc9e61789839480834a9bcb5aaf9c6ef"
  default_role   = "reader"

  api_key "2026-12" {
    sha256 = "649e5c17defbe3aa339f573729cc948177b56c95ed1988b017ac4cd6b1f2e4a6"
  }

  api_key "2025-12" {
    sha256    = "BAE5323DCA4D8C737704B60D69D416C9E930F04F166739FE59FBD566A9364DB9"
    not_after = "2099-01-31T01:00:00+01:00"
  }
}

app "batch" {
  api_key "only" {
    sha256 = "9d8db2a67d146638c07fbb5652ad998062e2e2fa857eef026c40c444b07e3872"
  }
}
