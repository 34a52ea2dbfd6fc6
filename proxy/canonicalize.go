package proxy

import (
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// canonicalize checks the request target once, before any decision, and
// stores the canonical path that every later stage uses and that forward
// sends upstream byte for byte. It refuses (400), never repairs:
//   - CONNECT, and the asterisk-form target ("OPTIONS *"); TRACE and TRACK
//     get 405;
//   - absolute-form targets ("GET http://host/p") for a host other than the
//     address this listener accepted the connection on;
//   - any path policy.ParsePath refuses (dot segments raw or encoded, "//",
//     encoded "/", "\", NUL, ";", "#", "?", "%", invalid UTF-8), and paths
//     over policy.MaxPathBytes/MaxPathSegments (414).
//
// A Host (HTTP/1) or :authority (HTTP/2; net/http puts either in r.Host)
// whose port is empty, not a number or over 65535 is refused (400): the
// upstream, its framework and gatehouse would each make something else of
// it (see validHostPort).
//
// A request with both Content-Length and Transfer-Encoding is refused and
// its connection closed (see framing.go). Go's server already refuses
// duplicate Host headers, several different Content-Length values, and
// Transfer-Encodings other than chunked.
type canonicalize struct{}

func (canonicalize) serve(x *transaction) error {
	r := x.r
	if x.conn.badFraming != "" {
		return &Error{Status: http.StatusBadRequest, Reason: reasonAmbiguousFraming, Close: true,
			Err: errors.New(x.conn.badFraming)}
	}
	if !validHostPort(r.Host) {
		return refuse(http.StatusBadRequest, reasonBadHost, errors.New("the Host port is empty, not a number or over 65535"))
	}
	p, err := CanonicalTarget(r.Method, r.RequestURI, func() bool { return r.URL.Host != "" && sameHost(r) })
	if err != nil {
		return err
	}
	x.facts.path = p
	return nil
}

// CanonicalTarget is the request-target half of canonicalize: it refuses
// CONNECT, TRACE/TRACK and the asterisk form, takes the path of an
// absolute-form target when ownHost (nil: always) says its authority is
// this listener's, drops the query and returns policy.ParsePath's
// canonical path, or the refusal the proxy answers with. gatehouse explain
// and POST /admin/explain canonicalize with it too.
func CanonicalTarget(method, target string, ownHost func() bool) (policy.Path, *Error) {
	switch method {
	case http.MethodConnect:
		return policy.Path{}, refuse(http.StatusBadRequest, reasonConnect, nil)
	case http.MethodTrace, "TRACK":
		// TRACE echoes request headers (cross-site tracing); never forward it,
		// not even to public upstreams.
		return policy.Path{}, refuse(http.StatusMethodNotAllowed, reasonTrace, nil)
	}
	raw := target
	if raw == "*" {
		return policy.Path{}, refuse(http.StatusBadRequest, reasonAsteriskForm, nil)
	}
	if !strings.HasPrefix(raw, "/") {
		// Absolute form: accept only for this listener's own address.
		scheme, rest, found := strings.Cut(raw, "://")
		if !found || scheme == "" || (ownHost != nil && !ownHost()) {
			return policy.Path{}, refuse(http.StatusBadRequest, reasonAbsoluteForm, errors.New("absolute-form request target for another host"))
		}
		// The path as sent, after "scheme://authority".
		raw = "/"
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			raw = rest[j:]
		}
	}
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		raw = raw[:i]
	}
	p, err := policy.ParsePath(raw)
	if err != nil {
		if errors.Is(err, policy.ErrPathTooLong) {
			return policy.Path{}, refuse(http.StatusRequestURITooLong, reasonPathTooLong, err)
		}
		return policy.Path{}, refuse(http.StatusBadRequest, reasonBadPath, err)
	}
	return p, nil
}

// validHostPort reports whether the Host value h has no port, or a port of
// 1 to 5 digits no greater than 65535. Outside brackets (an IP literal) the
// first ":" starts the port, so "a:b:80" has the port "b:80". net/http
// checks only the characters of a Host; "h:", "h:x" and "h:99999" pass it.
func validHostPort(h string) bool {
	i := strings.IndexByte(h, ':')
	if i < 0 {
		return true
	}
	if h[0] == '[' {
		j := strings.IndexByte(h, ']')
		if j < 0 {
			return false
		}
		if j == len(h)-1 {
			return true
		}
		if h[j+1] != ':' {
			return false
		}
		i = j + 1
	}
	port := h[i+1:]
	if len(port) == 0 || len(port) > 5 {
		return false
	}
	n := 0
	for k := 0; k < len(port); k++ {
		c := port[k]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}

// sameHost reports whether an absolute-form target names the address the
// connection arrived on.
func sameHost(r *http.Request) bool {
	la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	return strings.EqualFold(r.URL.Host, la.String())
}

var _ stage = canonicalize{}
