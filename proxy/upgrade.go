package proxy

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// reasonUpgradeOrigin refuses a WebSocket upgrade that rides a session
// cookie from a page of another origin (cross-site WebSocket hijacking).
const reasonUpgradeOrigin = "upgrade_origin_refused"

// checkUpgrade refuses the protocol upgrades forward does not carry: any
// but a GET "Upgrade: websocket" (400 upgrade_refused), and a WebSocket
// whose session came from the cookie when its Origin is neither this
// server's own nor allowed with credentials by the path's cors block (403
// upgrade_origin_refused; see checkUpgradeOrigin). up is the request's
// upgradeType.
func (x *transaction) checkUpgrade(up string) error {
	if !strings.EqualFold(up, "websocket") || x.r.Method != http.MethodGet {
		return refuse(http.StatusBadRequest, reasonBadUpgrade, nil)
	}
	if x.who.cred != credCookie {
		// A bearer token or an API key is sent by code that holds it, not
		// by a browser on behalf of whichever page opens the socket.
		return nil
	}
	return x.checkUpgradeOrigin()
}

// checkUpgradeOrigin decides the Origin of a WebSocket upgrade that carries
// the session cookie. Browsers attach cookies to cross-site WebSocket
// handshakes and do not apply CORS to them, so without this check any page
// the victim visits could open a socket as the victim. Allowed are:
//   - the server's own origin (the scheme and Host the client used, taken
//     from X-Forwarded-Proto and X-Forwarded-Host only when the peer is in
//     trusted_proxies), since CORS never restricts same-origin pages;
//   - an origin the path's cors block allows with credentials = true: the
//     same pages that may make credentialed requests there.
//
// A request without Origin passes: every browser sends Origin on a
// WebSocket handshake (RFC 6455 section 4.1), so a missing one means a
// client that is not a browser and holds the cookie itself. An empty
// Origin, "null", several Origin headers, or anything else is refused.
func (x *transaction) checkUpgradeOrigin() error {
	vals, ok := x.r.Header["Origin"]
	if !ok {
		return nil
	}
	if len(vals) == 1 {
		o := vals[0]
		if x.sameOrigin(o) {
			return nil
		}
		if rule := x.facts.cors.rule; rule != nil && rule.Credentials() {
			if allow, ok := rule.AllowOrigin(o); ok && allow == o && o != "" {
				return nil
			}
		}
	}
	return refuse(http.StatusForbidden, reasonUpgradeOrigin,
		fmt.Errorf("origin %q is neither this server's nor allowed with credentials by a cors block", truncate(strings.Join(vals, ", "), 256)))
}

// sameOrigin reports whether origin is the origin the client addressed:
// the request's scheme and Host, or what a trusted proxy says they were.
func (x *transaction) sameOrigin(origin string) bool {
	r := x.r
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if x.facts.peerTrusted {
		if h := r.Header.Get("X-Forwarded-Host"); h != "" {
			host = h
		}
		if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
			scheme = p
		}
	}
	return sameOrigin(origin, scheme, host)
}

// sameOrigin reports whether origin (an Origin header's value) and
// scheme://host are the same origin: equal scheme, host and port once both
// are in the canonical form policy.ParseOrigin gives (lower case, no
// default port). Anything that is not a single http(s) origin, such as
// "null", a path, or a wildcard, is not.
func sameOrigin(origin, scheme, host string) bool {
	if host == "" || strings.Contains(origin, "*") || strings.Contains(host, "*") {
		return false
	}
	o, err := policy.ParseOrigin(origin)
	if err != nil {
		return false
	}
	own, err := policy.ParseOrigin(scheme + "://" + host)
	if err != nil {
		return false
	}
	return o.String() == own.String()
}
