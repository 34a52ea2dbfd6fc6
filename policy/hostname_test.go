package policy

import (
	"net/netip"
	"testing"
)

// TestHostName: the name of a Host value, as the ACME redirect listener
// and the TLS listener's misdirected-request check compare it (through
// FoldHostName: lower case, one trailing dot removed).
func TestHostName(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{"api.example.test", "api.example.test"},
		{"API.example.test:8080", "api.example.test"},
		{"api.example.test.", "api.example.test"},
		{"A.Example.Test.:8443", "a.example.test"},
		{"a.example.test..", "a.example.test."},
		{"[::1]:443", "::1"},
		{"[::1]", "::1"},
		{"[::1].", "[::1]"},
		{"127.0.0.1:80", "127.0.0.1"},
		{"", ""},
		{".", ""},
		{":443", ""},
		{"[]", ""},
		{"api.example.test:", "api.example.test"},
		{"api.example.test:12:34", "api.example.test:12:34"},
		{"a.example.test@b.example.test", "a.example.test@b.example.test"},
	}
	for _, c := range cases {
		if got, ok := HostName(c.in); got != c.want || ok != (c.want != "") {
			t.Errorf("HostName(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.want != "")
		}
	}
}

func TestClientPrefix(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"192.0.2.7", "192.0.2.7/32"},
		{"::ffff:192.0.2.7", "192.0.2.7/32"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"", "invalid Prefix"},
	} {
		var a netip.Addr
		if tc.addr != "" {
			a = netip.MustParseAddr(tc.addr)
		}
		if got := ClientPrefix(a).String(); got != tc.want {
			t.Errorf("ClientPrefix(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}
