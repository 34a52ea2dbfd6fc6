package oauth_test

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/proxy/authapi/oauth"
)

func TestSafeNext(t *testing.T) {
	long := "/" + strings.Repeat("a", oauth.MaxNextLen-1)
	cases := []struct {
		in   string
		want string // "" = rejected
	}{
		// Accepted.
		{"", "/"},
		{"/", "/"},
		{"/ok", "/ok"},
		{"/ok?x=1", "/ok?x=1"},
		{"/ok#frag", "/ok#frag"},
		{"/a/b/../c?next=%2Fhome&y=%20z#f", "/a/b/../c?next=%2Fhome&y=%20z#f"},
		{"/ok?u=http://evil.com", "/ok?u=http://evil.com"}, // a query value, still same-origin
		{"/javascript:alert(1)", "/javascript:alert(1)"},   // a path segment
		{"/%252f%252fevil.com", "/%252f%252fevil.com"},     // decoded once: "/%2f%2fevil.com"
		{"/a b", "/a%20b"},
		{`/q?"<script>"`, "/q?%22%3Cscript%3E%22"},
		{"/caf\u00e9", "/caf%C3%A9"},
		{long, long},

		// Rejected: other origins.
		{"//evil.com", ""},
		{"///evil.com", ""},
		{`/\evil.com`, ""},
		{`\\evil`, ""},
		{`\/evil.com`, ""},
		{"https://evil.com", ""},
		{"http:/evil.com", ""},
		{"javascript:alert(1)", ""},
		{"data:text/html,x", ""},
		{"evil.com", ""},
		{"ok", ""},
		{" /ok", ""},
		{"./ok", ""},
		// Rejected: encoded slashes and backslashes.
		{"/%2f%2fevil.com", ""},
		{"/%2F%2Fevil.com", ""},
		{"/%2fevil.com", ""},
		{"/%5cevil", ""},
		{"/%5Cevil", ""},
		{"/ok/%5c", ""},
		{"/ok\\x", ""},
		// Rejected: control characters, raw or encoded.
		{"/\t/evil.com", ""},
		{"/\n/evil.com", ""},
		{"/ok\r\nSet-Cookie: x=1", ""},
		{"/ok%0d%0aSet-Cookie:%20x=1", ""},
		{"/%09/evil.com", ""},
		{"/ok\x00", ""},
		{"/ok%00", ""},
		{"/ok\x7f", ""},
		{"/ok\u202e", ""}, // right-to-left override
		{"/ok\u2028", ""}, // line separator
		{"/ok\u0085", ""}, // C1 next line
		// Rejected: malformed.
		{"/ok%zz", ""},
		{"/ok%", ""},
		{"/ok\xff", ""},
		{long + "a", ""},
		{"/" + strings.Repeat("\u00e9", 700), ""}, // fits raw, too long escaped
	}
	for _, tc := range cases {
		got, ok := oauth.SafeNext(tc.in)
		if ok != (tc.want != "") || got != tc.want {
			t.Errorf("SafeNext(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "/ok?x=1#f", "//evil", "/%2f%2fx", `/\x`, "/a b\u00e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, ok := oauth.SafeNext(in)
		if !ok {
			return
		}
		if len(out) > oauth.MaxNextLen || !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") || strings.ContainsAny(out, "\\\r\n\t\x00 ") {
			t.Fatalf("SafeNext(%q) = %q", in, out)
		}
		for i := 0; i < len(out); i++ {
			if out[i] < 0x21 || out[i] > 0x7e {
				t.Fatalf("SafeNext(%q) = %q: byte %#x", in, out, out[i])
			}
		}
		// Accepting is stable: the output is accepted unchanged.
		if again, ok := oauth.SafeNext(out); !ok || again != out {
			t.Fatalf("SafeNext(%q) = %q, but SafeNext of that = %q, %v", in, out, again, ok)
		}
	})
}
