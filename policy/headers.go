package policy

// IsIdentityOrCredentialHeader reports whether a request header name is one
// that only gatehouse may send upstream: X-Gatehouse-* identity headers and
// the X-API-Key credential, in any spelling (any case, "_" for "-"), since
// upstream frameworks (CGI, PHP, nginx with underscores_in_headers) fold
// those spellings together. The proxy strips such headers from client
// requests; config refuses them as upstream header templates.
func IsIdentityOrCredentialHeader(k string) bool {
	const gh = "x-gatehouse-"
	const ak = "x-api-key"
	if len(k) >= len(gh) && HeaderFold(k[:len(gh)], gh) {
		return true
	}
	return len(k) == len(ak) && HeaderFold(k, ak)
}

// HeaderFold reports whether the header name s equals pattern, a lower-case
// ASCII name of the same length, ignoring case and treating "_" as "-".
func HeaderFold(s, pattern string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		} else if c == '_' {
			c = '-'
		}
		if c != pattern[i] {
			return false
		}
	}
	return true
}
