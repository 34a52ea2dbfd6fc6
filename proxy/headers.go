package proxy

import (
	"net/http"
	"net/netip"
	"strings"
)

// Identity headers gatehouse sets for upstreams when identity_headers is on.
const (
	headerApp       = "X-Gatehouse-App"
	headerRole      = "X-Gatehouse-Role"
	headerUser      = "X-Gatehouse-User"
	headerAdmin     = "X-Gatehouse-Admin" // "true" for admin sessions
	headerRequestID = "X-Request-Id"
)

// stripClientHeaders removes, from a request about to go upstream, every
// header a client could use to impersonate gatehouse or leak a credential:
// X-Gatehouse-* identity headers and the API key, in any spelling (any case,
// "_" for "-"), since upstream frameworks (CGI, PHP, nginx with
// underscores_in_headers) fold those spellings together.
func stripClientHeaders(h http.Header) {
	for k := range h {
		if isIdentityOrCredential(k) {
			delete(h, k)
		}
	}
}

func isIdentityOrCredential(k string) bool {
	const gh = "x-gatehouse-"
	const ak = "x-api-key"
	if len(k) >= len(gh) && foldDash(k[:len(gh)], gh) {
		return true
	}
	return len(k) == len(ak) && foldDash(k, ak)
}

// foldDash compares s with a lower-case ASCII pattern, ignoring case and
// treating "_" as "-".
func foldDash(s, pattern string) bool {
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

// peerAddr parses the TCP peer from RemoteAddr; the zero Addr if it cannot.
func peerAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr) // net/http sets "ip:port"
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// clientAddr is the peer, or, when the peer is a trusted proxy
// (peerTrusted), the right-most X-Forwarded-For address that is not itself
// a trusted proxy. Unparsable entries stop the walk at the last address
// believed so far.
func clientAddr(peer netip.Addr, peerTrusted bool, xff []string, trusted func(netip.Addr) bool) netip.Addr {
	if !peerTrusted || len(xff) == 0 {
		return peer
	}
	client := peer
	for i := len(xff) - 1; i >= 0; i-- {
		parts := xff[i]
		for parts != "" {
			j := strings.LastIndexByte(parts, ',')
			item := strings.TrimSpace(parts[j+1:])
			parts = parts[:max(j, 0)]
			a, err := netip.ParseAddr(item)
			if err != nil {
				return client
			}
			client = a.Unmap()
			if !trusted(client) {
				return client
			}
		}
	}
	return client
}

// upgradeType returns the protocol a request asks to switch to, as
// httputil.ReverseProxy sees it: the Upgrade header when Connection names
// "upgrade".
func upgradeType(h http.Header) string {
	if !headerHasToken(h["Connection"], "upgrade") {
		return ""
	}
	return h.Get("Upgrade")
}

func headerHasToken(vals []string, token string) bool {
	for _, v := range vals {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
