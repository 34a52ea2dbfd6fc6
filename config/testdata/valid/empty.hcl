# An empty configuration is valid: every request gets 404 from routing.
