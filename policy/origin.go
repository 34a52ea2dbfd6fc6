package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// originKind says how an OriginPattern matches.
type originKind uint8

const (
	originExact    originKind = iota + 1 // one origin, byte for byte
	originWildcard                       // https://*.example.com: any subdomain
	originAny                            // "*": every origin
)

// OriginPattern is one compiled entry of a cors block's origins: an exact
// origin ("https://portal.example.com"), a subdomain wildcard
// ("https://*.example.com") or "*" (any origin). The zero value matches
// nothing.
//
// Patterns are stored in the serialized form browsers send in the Origin
// header: lower-case scheme and host, no default port, no trailing slash.
// Match compares against that form byte for byte and never normalizes the
// request's Origin, so a non-canonical Origin (upper case, ":443", a path),
// which no browser sends, matches nothing.
type OriginPattern struct {
	kind originKind
	// canon is the canonical pattern: the origin for originExact,
	// "scheme://*.apex[:port]" for originWildcard, "*" for originAny.
	canon string
	// For originWildcard: scheme is "https://", suffix ".example.com" or
	// ".example.com:8443".
	scheme, suffix string
}

// ParseOrigin compiles one origins entry. It accepts:
//
//   - "*" (any origin);
//   - "scheme://host[:port]" with scheme http or https; the scheme and host
//     are lower-cased and the scheme's default port is dropped, so
//     "HTTPS://Portal.Example.com:443" is "https://portal.example.com";
//   - "scheme://*.apex[:port]": every origin of that scheme and port whose
//     host is one or more labels followed by ".apex". It never matches the
//     apex itself, another scheme or another port. The apex needs at least
//     two labels ("*.com" is refused) and must not be a public suffix
//     ("*.co.uk", "*.github.io": golang.org/x/net/publicsuffix's list).
//
// It refuses a path (even a lone "/"), query, fragment or user info, other
// schemes, a "*" anywhere else, hosts that are not ASCII DNS names or IP
// literals (write internationalized names in punycode), and ports outside
// 1..65535.
func ParseOrigin(s string) (OriginPattern, error) {
	if s == "*" {
		return OriginPattern{kind: originAny, canon: "*"}, nil
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return OriginPattern{}, errors.New(`must be "*" or start with "http://" or "https://"`)
	}
	scheme = strings.ToLower(scheme)
	defPort := ""
	switch scheme {
	case "http":
		defPort = "80"
	case "https":
		defPort = "443"
	default:
		return OriginPattern{}, fmt.Errorf("scheme %q is not http or https", scheme)
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		what := map[byte]string{'/': "a path", '?': "a query", '#': "a fragment"}[rest[i]]
		if rest[i:] == "/" {
			what = `a trailing "/"`
		}
		return OriginPattern{}, fmt.Errorf("an origin is scheme://host[:port] and has no path, query or fragment; this one has %s", what)
	}
	if strings.Contains(rest, "@") {
		return OriginPattern{}, errors.New("an origin has no user info (\"user@\")")
	}
	host, port, err := splitOriginHostPort(rest)
	if err != nil {
		return OriginPattern{}, err
	}
	if port == defPort {
		port = ""
	}
	hostPort := host
	if port != "" {
		hostPort += ":" + port
	}
	if apex, wild := strings.CutPrefix(host, "*."); wild {
		if err := checkDNSName(apex); err != nil {
			return OriginPattern{}, fmt.Errorf("wildcard apex %q: %w", apex, err)
		}
		if !strings.Contains(apex, ".") {
			return OriginPattern{}, fmt.Errorf(`wildcard apex %q has a single label; "*.%s" would cover a whole top-level domain (write at least "*.example.%s")`, apex, apex, apex)
		}
		// A wildcard over a public suffix ("*.co.uk", "*.github.io",
		// "*.herokuapp.com") admits every site anyone can register or host
		// there. The list is compiled into x/net/publicsuffix: no I/O.
		if ps, _ := publicsuffix.PublicSuffix(apex); ps == apex {
			return OriginPattern{}, fmt.Errorf(`wildcard apex %q is a public suffix: "*.%s" would admit sites anyone can register there; list the origins, or use a wildcard under a domain you control ("*.example.%s")`, apex, apex, apex)
		}
		suffix := "." + apex
		if port != "" {
			suffix += ":" + port
		}
		return OriginPattern{kind: originWildcard, canon: scheme + "://" + hostPort, scheme: scheme + "://", suffix: suffix}, nil
	}
	if strings.Contains(host, "*") {
		return OriginPattern{}, errors.New(`"*" is allowed only alone or as the whole first label of the host ("https://*.example.com")`)
	}
	if !strings.HasPrefix(host, "[") {
		if err := checkDNSName(host); err != nil {
			return OriginPattern{}, err
		}
	}
	return OriginPattern{kind: originExact, canon: scheme + "://" + hostPort}, nil
}

// splitOriginHostPort splits "host[:port]" and returns the lower-cased host
// (IPv6 literals keep their brackets, in canonical form) and the port digits.
func splitOriginHostPort(s string) (host, port string, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", errors.New(`IPv6 literal without "]"`)
		}
		a, perr := netip.ParseAddr(s[1:end])
		if perr != nil || !a.Is6() || a.Zone() != "" || a.Is4In6() {
			return "", "", fmt.Errorf("%q is not an IPv6 address", s[1:end])
		}
		host, s = "["+a.String()+"]", s[end+1:]
		if s == "" {
			return host, "", nil
		}
		if s[0] != ':' {
			return "", "", errors.New(`unexpected text after "]"`)
		}
		port = s[1:]
	} else {
		var ok bool
		host, port, ok = strings.Cut(s, ":")
		if !ok {
			port = ""
		} else if strings.Contains(port, ":") {
			return "", "", errors.New(`too many ":" (write IPv6 addresses in brackets)`)
		}
		if host == "" {
			return "", "", errors.New("missing host")
		}
		host = strings.ToLower(host)
		if ok && port == "" {
			return "", "", errors.New(`empty port after ":"`)
		}
	}
	if port != "" {
		n, perr := strconv.ParseUint(port, 10, 16)
		if perr != nil || n == 0 || port[0] == '0' {
			return "", "", fmt.Errorf("port %q is not a number from 1 to 65535", port)
		}
	}
	return host, port, nil
}

// checkDNSName accepts a lower-case ASCII host name (labels of letters,
// digits and inner "-", at most 63 bytes each, 253 in all) or a dotted IPv4
// address in canonical form.
func checkDNSName(h string) error {
	if h == "" {
		return errors.New("empty host")
	}
	if len(h) > 253 {
		return errors.New("host name longer than 253 bytes")
	}
	allDigits := true
	for label := range strings.SplitSeq(h, ".") {
		if label == "" {
			return fmt.Errorf("host %q has an empty label", h)
		}
		if len(label) > 63 {
			return fmt.Errorf("host %q has a label longer than 63 bytes", h)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case c >= 0x80:
				return fmt.Errorf("host %q is not ASCII; write internationalized names in punycode (xn--…)", h)
			case '0' <= c && c <= '9':
			case 'a' <= c && c <= 'z':
				allDigits = false
			case c == '-' && i > 0 && i < len(label)-1:
				allDigits = false
			default:
				return fmt.Errorf("host %q contains %q; host names are letters, digits, inner \"-\" and \".\"", h, string(c))
			}
		}
	}
	if allDigits {
		a, err := netip.ParseAddr(h)
		if err != nil || !a.Is4() || a.String() != h {
			return fmt.Errorf("host %q is neither a host name nor an IPv4 address in dotted form", h)
		}
	}
	return nil
}

// String returns the pattern in canonical form ("https://*.example.com",
// "http://localhost:3000", "*").
func (o OriginPattern) String() string { return o.canon }

// Any reports whether the pattern is "*".
func (o OriginPattern) Any() bool { return o.kind == originAny }

// Match reports whether origin, the value of a request's Origin header,
// matches the pattern. "*" matches every origin (even "null"); the other
// kinds match only origins in canonical form and never "null".
func (o OriginPattern) Match(origin string) bool {
	switch o.kind {
	case originAny:
		return true
	case originExact:
		return origin == o.canon
	case originWildcard:
		if len(origin) <= len(o.scheme)+len(o.suffix) || !strings.HasPrefix(origin, o.scheme) || !strings.HasSuffix(origin, o.suffix) {
			return false
		}
		return validSubdomain(origin[len(o.scheme) : len(origin)-len(o.suffix)])
	}
	return false
}

// validSubdomain reports whether s is one or more labels as checkDNSName
// accepts them: 1 to 63 lower-case letters, digits and inner "-", separated
// by ".". It is what a wildcard's "*" stands for; anything else (":", "@",
// "/", upper case, an empty label) means the Origin is not a plain
// subdomain.
func validSubdomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
