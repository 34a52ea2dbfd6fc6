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
// A request with both Content-Length and Transfer-Encoding is refused and
// its connection closed (see framing.go). Go's server already refuses
// duplicate Host headers, several different Content-Length values, and
// Transfer-Encodings other than chunked.
type canonicalize struct{}

func (canonicalize) serve(x *exchange) error {
	r := x.r
	if x.badFraming != "" {
		return &Error{Status: http.StatusBadRequest, Reason: reasonAmbiguousFraming, Close: true,
			Err: errors.New(x.badFraming)}
	}
	switch r.Method {
	case http.MethodConnect:
		return refuse(http.StatusBadRequest, reasonConnect, nil)
	case http.MethodTrace, "TRACK":
		// TRACE echoes request headers (cross-site tracing); never forward it,
		// not even to public upstreams.
		return refuse(http.StatusMethodNotAllowed, reasonTrace, nil)
	}
	raw := r.RequestURI
	if raw == "*" {
		return refuse(http.StatusBadRequest, reasonAsteriskForm, nil)
	}
	if !strings.HasPrefix(raw, "/") {
		// Absolute form: accept only for this listener's own address.
		if r.URL.Host == "" || !sameHost(r) {
			return refuse(http.StatusBadRequest, reasonAbsoluteForm, errors.New("absolute-form request target for another host"))
		}
		// The path as sent, after "scheme://authority" (net/http found a host,
		// so the "://" is there).
		_, rest, _ := strings.Cut(raw, "://")
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
			return refuse(http.StatusRequestURITooLong, reasonPathTooLong, err)
		}
		return refuse(http.StatusBadRequest, reasonBadPath, err)
	}
	x.path = p
	return nil
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
