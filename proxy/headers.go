package proxy

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// Identity headers gatehouse sets for upstreams when identity_headers is on.
const (
	headerApp       = "X-Gatehouse-App"
	headerRole      = "X-Gatehouse-Role"
	headerUser      = "X-Gatehouse-User"
	headerAdmin     = "X-Gatehouse-Admin"    // "true" for admin sessions
	headerProvider  = "X-Gatehouse-Provider" // "local", an ldap or an oauth block name
	headerRequestID = "X-Request-Id"
	headerRealIP    = "X-Real-Ip" // the client address (appendForwarded)
)

// stripClientHeaders removes, from a request about to go upstream, every
// header a client could use to impersonate gatehouse or an auth proxy,
// override the URL, host, client address or method the upstream believes,
// or leak a credential (policy.ClientHeaders: the default list, the server
// block's strip_headers and keep_headers; trusted says the peer is in
// trusted_proxies), and every client copy of own, the fields gatehouse sets
// itself, which replace them. Both in any spelling an upstream framework
// takes for the same name (policy.HeaderFold).
func stripClientHeaders(h http.Header, own [][2]string, rules *policy.ClientHeaders, trusted bool) {
	for k := range h {
		if rules.Strip(k, trusted) || namesField(k, own) {
			delete(h, k)
		}
	}
}

// namesField reports whether the header name k folds to one of fields'.
func namesField(k string, fields [][2]string) bool {
	for _, kv := range fields {
		if policy.HeaderFold(k, kv[0]) {
			return true
		}
	}
	return false
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

// reasonHeaderUnresolved refuses a request whose upstream header template
// has no value for this caller: an upstream scoped by a header (a tenant, a
// user) must never get the request without it.
const reasonHeaderUnresolved = policy.ReasonHeaderUnresolved

// resolveUpstreamHeaders renders the upstream's header templates for this
// caller into x.out.headers, or refuses the request.
func (x *transaction) resolveUpstreamHeaders() error {
	tmpls := x.facts.route.Upstream.Headers()
	if len(tmpls) == 0 {
		return nil
	}
	c := policy.HeaderCaller{ID: x.who.ident, Lookups: x.lookups()}
	if x.who.sess != nil {
		c.Email, c.Provider = x.who.sess.Email, x.who.sess.Provider
	}
	x.out.headers = make([][2]string, 0, len(tmpls))
	for _, t := range tmpls {
		v, ok := t.Render(c.Resolve)
		if !ok {
			return refuse(http.StatusForbidden, reasonHeaderUnresolved, fmt.Errorf("header %s: a placeholder has no value for this caller, or the value has control characters (a file() value with its final newline?)", t.Name))
		}
		x.out.headers = append(x.out.headers, [2]string{t.Name, v})
	}
	return nil
}

// lookups returns the merged lookups of the caller (computed once).
func (x *transaction) lookups() map[string]any {
	if x.who.lookups == nil {
		c := policy.Caller{ID: x.who.ident}
		if s := x.who.sess; s != nil && !x.who.ident.Admin {
			c.Provider, c.Local, c.Captured = s.Provider, s.Local, s.Lookups
		}
		x.who.lookups = x.snap().LookupsOf(c)
	}
	return x.who.lookups
}

// maxRequestIDBytes bounds an X-Request-Id kept from a trusted proxy.
const maxRequestIDBytes = 128

// keptRequestID returns the X-Request-Id values a trusted proxy sent, and
// whether gatehouse keeps it as the request's id: exactly one value of 1
// to maxRequestIDBytes visible ASCII characters (0x21 to 0x7E: no spaces,
// control characters or UTF-8), so that it cannot split a header, forge a
// log field or grow a log line without bound. Anything else is replaced by
// a minted id.
func keptRequestID(vals []string) (string, bool) {
	if len(vals) != 1 {
		return "", false
	}
	v := vals[0]
	if len(v) == 0 || len(v) > maxRequestIDBytes {
		return "", false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] > 0x7e {
			return "", false
		}
	}
	return v, true
}
