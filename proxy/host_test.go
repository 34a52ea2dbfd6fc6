package proxy

import (
	"net/http"
	"strings"
	"testing"
)

func TestValidHostPort(t *testing.T) {
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"", true},
		{"example.com", true},
		{"example.com:80", true},
		{"example.com:0", true},
		{"example.com:65535", true},
		{"example.com:08080", true},
		{"127.0.0.1:8080", true},
		{"[::1]", true},
		{"[::1]:443", true},
		{"[fe80::1%25eth0]:443", true},

		{"example.com:", false},
		{"example.com:abc", false},
		{"example.com:80a", false},
		{"example.com:+80", false},
		{"example.com:-1", false},
		{"example.com: 80", false},
		{"example.com:65536", false},
		{"example.com:99999", false},
		{"example.com:000080", false},
		{"example.com:80:80", false},
		{"a:b:80", false},
		{"::1", false},
		{"[::1]:", false},
		{"[::1]:x", false},
		{"[::1]x", false},
		{"[::1]:65536", false},
		{"[::1", false},
	} {
		if got := validHostPort(tc.host); got != tc.want {
			t.Errorf("validHostPort(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
}

// TestCanonicalize_BadHostPortRefused (issue 18, point 5): a Host with an
// empty, non-numeric or out-of-range port is 400 bad_host before any
// decision, over HTTP/1.1 (Host, and the authority of an absolute-form
// target) and HTTP/2 (:authority); the upstream sees none of them.
func TestCanonicalize_BadHostPortRefused(t *testing.T) {
	up := newRecordingUpstream(t)
	spec := testSpec(t, up.URL)
	p := newTestProxy(t, spec)
	addr := p.Listener.Addr().String()
	bad := []string{"x:", "x:abc", "x:65536", "x:99999", "a:b:80", "[::1]x", "[::1]:"}
	k := "X-API-Key: " + testAdminKey + "\r\n"
	for _, h := range bad {
		status, _ := raw(t, addr, "GET /hr/employees HTTP/1.1\r\nHost: "+h+"\r\n"+k+"Connection: close\r\n\r\n")
		if !strings.HasPrefix(status, "HTTP/1.1 400 ") {
			t.Errorf("HTTP/1.1 Host %q: got %q, want 400", h, status)
			continue
		}
		recs := p.log.records(t)
		if r := recs[len(recs)-1]["reason"]; r != reasonBadHost {
			t.Errorf("HTTP/1.1 Host %q: got reason %v, want %s", h, r, reasonBadHost)
		}
	}
	status, _ := raw(t, addr, "GET http://"+addr+"9/hr/employees HTTP/1.1\r\nHost: x\r\n"+k+"Connection: close\r\n\r\n")
	if recs := p.log.records(t); !strings.HasPrefix(status, "HTTP/1.1 400 ") || recs[len(recs)-1]["reason"] != reasonBadHost {
		t.Errorf("absolute-form target with port %s9: got %q, reason %v; want 400 %s", addr, status, recs[len(recs)-1]["reason"], reasonBadHost)
	}
	for _, h := range []string{"x", "x:80", "[::1]:8080"} {
		status, _ := raw(t, addr, "GET /hr/employees HTTP/1.1\r\nHost: "+h+"\r\n"+k+"Connection: close\r\n\r\n")
		if !strings.HasPrefix(status, "HTTP/1.1 200 ") {
			t.Errorf("HTTP/1.1 Host %q: got %q, want 200", h, status)
		}
	}

	ts, log := newTLSTestProxy(t, spec)
	get := func(authority string) [][2]string {
		return [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", authority}, {":path", "/hr/employees"}, {"x-api-key", testAdminKey}}
	}
	for _, h := range bad {
		status, err := h2Request(t, ts, get(h), "")
		if status != http.StatusBadRequest {
			t.Errorf("HTTP/2 :authority %q: got %d (%v), want 400", h, status, err)
			continue
		}
		recs := log.records(t)
		if r := recs[len(recs)-1]["reason"]; r != reasonBadHost {
			t.Errorf("HTTP/2 :authority %q: got reason %v, want %s", h, r, reasonBadHost)
		}
	}
	if status, err := h2Request(t, ts, get("example.com:443"), ""); status != http.StatusOK {
		t.Errorf("HTTP/2 :authority example.com:443: got %d (%v), want 200", status, err)
	}
	// Three requests with a good Host went through; none with a bad one.
	if _, raw, complete := up.seen(); complete != 4 || strings.Contains(raw, "x:abc") {
		t.Errorf("upstream got %d requests, want 4 (the good ones)", complete)
	}
}
