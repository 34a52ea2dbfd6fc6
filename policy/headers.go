package policy

// IsIdentityOrCredentialHeader reports whether a request header name is one
// that only gatehouse may send upstream: X-Gatehouse-* identity headers and
// the X-API-Key credential, in any spelling (any case, "_" for "-"), since
// upstream frameworks (CGI, PHP, nginx with underscores_in_headers) fold
// those spellings together. Config refuses them as upstream header
// templates. The proxy strips them from client requests through
// ClientHeaders, whose default list starts with the same two names (and
// which falls back on this function when nil).
func IsIdentityOrCredentialHeader(k string) bool {
	const gh = "x-gatehouse-"
	const ak = "x-api-key"
	return len(k) >= len(gh) && HeaderFold(k[:len(gh)], gh) || HeaderFold(k, ak)
}

// HeaderFold reports whether a and b name the same header to an upstream
// framework: equal ignoring ASCII case, with "_" taken for "-" (CGI, PHP
// and nginx with underscores_in_headers fold them together).
func HeaderFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if foldHeaderByte(a[i]) != foldHeaderByte(b[i]) {
			return false
		}
	}
	return true
}

func foldHeaderByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	if c == '_' {
		return '-'
	}
	return c
}
