package proxy

import (
	"errors"
	"net/http"
	"testing"
)

// TestMisdirected_Decide: over TLS, the Host must be a served name and,
// when the connection has SNI, the SNI name (issue 18, point 16).
func TestMisdirected_Decide(t *testing.T) {
	served := func(h string) bool {
		return h == "a.example.test" || h == "b.example.test" || h == "127.0.0.1" || h == "::1"
	}
	cases := []struct {
		name, host, sni string
		ok              bool
	}{
		{"same name", "a.example.test", "a.example.test", true},
		{"port, case and trailing dot ignored", "A.Example.Test.:8443", "a.example.TEST", true},
		{"other served name than SNI", "b.example.test", "a.example.test", false},
		{"other served name than SNI, with port", "b.example.test:443", "a.example.test", false},
		{"unknown host", "c.example.test", "a.example.test", false},
		{"unknown host equal to SNI", "c.example.test", "c.example.test", false},
		{"no SNI, served name", "a.example.test", "", true},
		{"no SNI, served IP", "127.0.0.1:8443", "", true},
		{"no SNI, served IPv6 in brackets", "[::1]:8443", "", true},
		{"no SNI, unknown host", "c.example.test", "", false},
		{"empty host", "", "a.example.test", false},
		{"empty host, no SNI", "", "", false},
		{"userinfo trick", "a.example.test@b.example.test", "a.example.test", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := misdirected(c.host, c.sni, served)
			if c.ok {
				if err != nil {
					t.Fatalf("got %v, want allowed", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusMisdirectedRequest || e.Reason != reasonMisdirected {
				t.Fatalf("got %v, want 421 %s", err, reasonMisdirected)
			}
		})
	}
}
