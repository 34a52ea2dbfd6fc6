# Mistakes in cluster blocks; every one is reported where it is.
cluster {
  redis         = "http://10.0.0.5:6379" # ERROR: Invalid URL
  key_prefix    = "gatehouse" # ERROR: Invalid key prefix
  dial_timeout  = "5" # ERROR: Invalid duration
  read_timeout  = "2m" # ERROR: Invalid duration
  write_timeout = "1ms" # ERROR: Invalid duration
  usernme       = "gatehouse" # ERROR: Unsupported argument
}

cluster { # ERROR: Duplicate cluster block
  redis   = "rediss://:hunter2@10.0.0.5:6380" # ERROR: Password in URL
  ca_file = "missing.pem" # ERROR: Unreadable file
}

cluster { # ERROR: Duplicate cluster block
  redis             = "redis://127.0.0.1:6379"
  ca_file           = "cluster.hcl" # ERROR: Conflicting TLS settings; Unreadable file
  sentinel_password = env("GATEHOUSE_TEST_REGION") # ERROR: Invalid Sentinel settings
}

cluster { # ERROR: Duplicate cluster block
  redis           = "redis://10.0.0.5:6379/x?dial_timeout=3" # ERROR: Invalid URL
  sentinel_master = "gh" # ERROR: Invalid Sentinel settings
}

cluster { # ERROR: Duplicate cluster block
  redis           = "redis://10.0.0.5:6379" # ERROR: Invalid URL
  sentinel_master = "gh"
  sentinel_addrs  = ["10.0.0.1:26379", "10.0.0.1", "10.0.0.1:26379"] # ERROR: Invalid address; Duplicate key
}

cluster { # ERROR: Duplicate cluster block
  redis    = "redis://alice@127.0.0.1:6379"
  username = "bob" # ERROR: Conflicting credentials; Missing password
}

cluster { # ERROR: Duplicate cluster block; Missing required argument
  key_prefix = "has space:" # ERROR: Invalid key prefix
}
