package policy_test

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

func TestParseOrigin_Canonical(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"*", "*"},
		{"https://portal.example.com", "https://portal.example.com"},
		{"HTTPS://Portal.Example.COM", "https://portal.example.com"},
		{"https://portal.example.com:443", "https://portal.example.com"},
		{"http://portal.example.com:80", "http://portal.example.com"},
		{"http://portal.example.com:443", "http://portal.example.com:443"},
		{"https://portal.example.com:80", "https://portal.example.com:80"},
		{"http://localhost:3000", "http://localhost:3000"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"http://[::1]:8080", "http://[::1]:8080"},
		{"http://[0:0:0:0:0:0:0:1]", "http://[::1]"},
		{"https://*.example.com", "https://*.example.com"},
		{"https://*.Example.com:443", "https://*.example.com"},
		{"https://*.example.com:8443", "https://*.example.com:8443"},
		{"https://xn--caf-dma.example", "https://xn--caf-dma.example"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			o, err := policy.ParseOrigin(tc.in)
			if err != nil {
				t.Fatalf("ParseOrigin(%q): %v", tc.in, err)
			}
			if got := o.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseOrigin_Refused(t *testing.T) {
	for _, tc := range []struct{ in, why string }{
		{"", "must be"},
		{"portal.example.com", "must be"},
		{"*.example.com", "must be"},
		{"ftp://portal.example.com", "scheme"},
		{"chrome-extension://abcdef", "scheme"},
		{"https://portal.example.com/", `trailing "/"`},
		{"https://portal.example.com/app", "a path"},
		{"https://portal.example.com?x=1", "a query"},
		{"https://portal.example.com#top", "a fragment"},
		{"https://user@portal.example.com", "user info"},
		{"https://", "missing host"},
		{"https://:443", "missing host"},
		{"https://portal.example.com:", "empty port"},
		{"https://portal.example.com:0", "port"},
		{"https://portal.example.com:65536", "port"},
		{"https://portal.example.com:08080", "port"},
		{"https://portal.example.com:+80", "port"},
		{"https://portal..example.com", "empty label"},
		{"https://.example.com", "empty label"},
		{"https://example.com.", "empty label"},
		{"https://-portal.example.com", "contains"},
		{"https://portal_x.example.com", "contains"},
		{"https://café.example", "ASCII"},
		{"https://*", `"*"`},
		{"https://*.com", "single label"},
		{"https://*.co.uk", "public suffix"},
		{"https://*.github.io", "public suffix"},
		{"https://*.GitHub.IO:8443", "public suffix"},
		{"http://*.herokuapp.com", "public suffix"},
		{"https://*.s3.amazonaws.com", "public suffix"},
		{"https://*example.com", `"*"`},
		{"https://a.*.example.com", `"*"`},
		{"https://*.*.example.com", "contains"},
		{"https://**.example.com", `"*"`},
		{"https://*.0.0.1", "neither"},
		{"http://127.1", "neither"},
		{"http://[fe80::1%25eth0]", "IPv6"},
		{"http://[::1", `"]"`},
		{"http://::1:80", `too many ":"`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := policy.ParseOrigin(tc.in)
			if err == nil {
				t.Fatalf("ParseOrigin(%q): got no error", tc.in)
			}
			if !strings.Contains(err.Error(), tc.why) {
				t.Errorf("ParseOrigin(%q): got %q, want it to mention %q", tc.in, err, tc.why)
			}
		})
	}
}

// TestOriginPattern_LookAlikesNotMatched is the look-alike table: origins
// that resemble an allowed one but are not it. None may match, so none is
// ever echoed in Access-Control-Allow-Origin.
func TestOriginPattern_LookAlikesNotMatched(t *testing.T) {
	exact := mustOrigin(t, "https://portal.example.com")
	wild := mustOrigin(t, "https://*.example.com")
	for _, tc := range []struct {
		origin      string
		exact, wild bool // the origin is a look-alike for that pattern
	}{
		{"https://example.com", true, true},            // the apex is not a subdomain
		{"https://evilexample.com", true, true},        // no dot before the apex
		{"https://portalexample.com", true, true},      // label glued to the apex
		{"https://x.example.com.evil.net", true, true}, // apex as a prefix of another domain
		{"https://portal.example.com.evil.net", true, true},
		{"https://example.com.evil.net", true, true},
		{"https://portal.example.co", true, true}, // truncated TLD
		{"https://portal.example.comm", true, true},
		{"https://portal.example.com.", true, true}, // trailing dot
		{"http://portal.example.com", true, true},   // other scheme
		{"http://x.example.com", true, true},
		{"wss://x.example.com", true, true},
		{"https://portal.example.com:444", true, true}, // other port
		{"https://x.example.com:8443", true, true},
		{"https://portal.example.com:443", true, true}, // not canonical: browsers omit :443
		{"https://PORTAL.example.com", true, true},     // not canonical: upper case
		{"https://X.Example.com", true, true},
		{"https://portal.example.com/", true, true}, // not an origin: a path
		{"https://x.example.com/evil", true, true},
		{"https://evil.com/.example.com", true, true}, // the apex in a path
		{"https://evil.com?.example.com", true, true},
		{"https://evil.com#.example.com", true, true},
		{"https://user@x.example.com", true, true}, // user info
		{"https://evil.com@x.example.com", true, true},
		{"https://evil.com:x@x.example.com", true, true},
		{"https://.example.com", true, true},   // empty label
		{"https://a..example.com", true, true}, // empty label inside
		{"https://a%2eexample.com", true, true},
		{"https://evil.com\x00.example.com", true, true},   // NUL
		{"https://evil.com .example.com", true, true},      // space
		{"https://xn--prtal-esa.example.com", true, false}, // punycode look-alike of "portal": a subdomain the wildcard does cover
		{"https://portal.example.com ", true, true},        // trailing space
		{" https://portal.example.com", true, true},
		{"https://portal.example.com\t", true, true},
		{"null", true, true},
		{"", true, true},
		{"*", true, true},
		{"https://*.example.com", true, true},
		{"https://portal.example.com, https://evil.com", true, true},
		{"https://evil.com https://portal.example.com", true, true},
		{"https://[::1].example.com", true, true},
		{"https://a_b.example.com", true, true},
		{"https://portal.exam\u0440le.com", true, true}, // Cyrillic "р"
		{"https://portal.еxample.com", true, true},      // Cyrillic "е"
	} {
		t.Run(tc.origin, func(t *testing.T) {
			if tc.exact && exact.Match(tc.origin) {
				t.Errorf("exact %s matched %q", exact, tc.origin)
			}
			if tc.wild && wild.Match(tc.origin) {
				t.Errorf("wildcard %s matched %q", wild, tc.origin)
			}
		})
	}
}

func TestOriginPattern_Matches(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		origin  string
		want    bool
	}{
		{"https://portal.example.com", "https://portal.example.com", true},
		{"https://portal.example.com:443", "https://portal.example.com", true},
		{"http://localhost:3000", "http://localhost:3000", true},
		{"http://localhost:3000", "http://localhost:3001", false},
		{"https://*.example.com", "https://a.example.com", true},
		{"https://*.example.com", "https://a.b.example.com", true},
		{"https://*.example.com", "https://a-b.example.com", true},
		{"https://*.example.com", "https://1.example.com", true},
		{"https://*.example.com", "https://example.com", false},
		{"https://*.example.com:8443", "https://a.example.com:8443", true},
		{"https://*.example.com:8443", "https://a.example.com", false},
		{"https://*.example.com", "https://a.example.com:8443", false},
		{"*", "https://anything.example", true},
		{"*", "null", true},
	} {
		o := mustOrigin(t, tc.pattern)
		if got := o.Match(tc.origin); got != tc.want {
			t.Errorf("%s.Match(%q) = %v, want %v", o, tc.origin, got, tc.want)
		}
	}
}

func mustOrigin(tb testing.TB, s string) policy.OriginPattern {
	tb.Helper()
	o, err := policy.ParseOrigin(s)
	if err != nil {
		tb.Fatalf("ParseOrigin(%q): %v", s, err)
	}
	return o
}

func FuzzOriginMatch(f *testing.F) {
	for _, s := range []string{"https://a.example.com", "https://example.com", "https://a.example.com.evil", "null"} {
		f.Add(s)
	}
	wild := mustOrigin(f, "https://*.example.com")
	f.Fuzz(func(t *testing.T, origin string) {
		if !wild.Match(origin) {
			return
		}
		// Whatever matched must be a plain https subdomain of example.com on
		// the default port, in canonical form.
		host, ok := strings.CutPrefix(origin, "https://")
		if !ok || !strings.HasSuffix(host, ".example.com") || host == ".example.com" {
			t.Fatalf("matched %q", origin)
		}
		o, err := policy.ParseOrigin(origin)
		if err != nil || o.String() != origin {
			t.Fatalf("matched %q, which is not a canonical origin (%v)", origin, err)
		}
	})
}
