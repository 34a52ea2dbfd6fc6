package proxy

import (
	"net/netip"
	"strings"
	"testing"
)

func TestKeptRequestID(t *testing.T) {
	cases := []struct {
		name string
		vals []string
		keep bool
	}{
		{"absent", nil, false},
		{"uuid", []string{"0f8fad5b-d9cb-469f-a165-70867728950e"}, true},
		{"visible punctuation", []string{"req:abc/1+2=3_~"}, true},
		{"128 bytes", []string{strings.Repeat("a", 128)}, true},
		{"129 bytes", []string{strings.Repeat("a", 129)}, false},
		{"empty", []string{""}, false},
		{"two values", []string{"a", "b"}, false},
		{"space", []string{"a b"}, false},
		{"tab", []string{"a\tb"}, false},
		{"newline", []string{"a\nb"}, false},
		{"DEL", []string{"a\x7fb"}, false},
		{"UTF-8", []string{"caf\u00e9"}, false},
		{"NUL", []string{"a\x00"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := keptRequestID(c.vals)
			if ok != c.keep {
				t.Fatalf("keptRequestID(%q) kept = %v, want %v", c.vals, ok, c.keep)
			}
			if ok && got != c.vals[0] {
				t.Errorf("kept %q, want %q", got, c.vals[0])
			}
		})
	}
}

// A trusted proxy's well-formed X-Request-Id reaches the upstream, the
// response and the access log; a bad one, or anyone else's, is replaced.
func TestForward_RequestIDFromTrustedProxyKept(t *testing.T) {
	const incoming = "lb-7f3a9c-0001"
	for _, c := range []struct {
		name    string
		trusted bool
		id      string
		kept    bool
	}{
		{"trusted peer, good id", true, incoming, true},
		{"trusted peer, id too long", true, strings.Repeat("x", 129), false},
		{"trusted peer, id with a space", true, "a b", false},
		{"untrusted peer", false, incoming, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			up := newUpstream(t, nil)
			spec := testSpec(t, up.URL)
			if c.trusted {
				spec.Server.TrustedProxies = []netip.Prefix{mustPrefix(t, "127.0.0.0/8")}
			}
			p := newTestProxy(t, spec)
			res, _ := p.get(t, "/hr/employees", map[string]string{"X-API-Key": testKey, "X-Request-Id": c.id})
			if res.StatusCode != 200 {
				t.Fatalf("status %d, want 200", res.StatusCode)
			}
			upID := up.last(t).Header.Values("X-Request-Id")
			recs := p.log.records(t)
			logID, _ := recs[len(recs)-1]["request_id"].(string)
			if len(upID) != 1 || upID[0] != logID || res.Header.Get("X-Request-Id") != logID {
				t.Fatalf("upstream %q, response %q, log %q: want one id everywhere", upID, res.Header.Get("X-Request-Id"), logID)
			}
			if (logID == c.id) != c.kept {
				t.Errorf("id %q, incoming %q: kept = %v, want %v", logID, c.id, logID == c.id, c.kept)
			}
		})
	}
}
