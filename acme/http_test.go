package acme

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/settings"
)

// TestHTTPHandler_Redirect: the HTTP listener redirects (308, method and
// body kept) to the same host on the TLS port, path and query unchanged,
// only for hosts the certificate serves; anything else gets 421.
func TestHTTPHandler_Redirect(t *testing.T) {
	certFile, keyFile := writePair(t, t.TempDir(), "api.example.test", "*.wild.example.test")
	m := newManager(t, &settings.TLS{CertFile: certFile, KeyFile: keyFile}, nil)
	cases := []struct {
		name, method, host, target, tlsPort string
		status                              int
		location                            string
	}{
		{"port dropped, TLS port added", "GET", "api.example.test:8080", "/hr/x?a=1&b=%20", "8443", 308, "https://api.example.test:8443/hr/x?a=1&b=%20"},
		{"443 left out", "GET", "api.example.test", "/hr/x?a=1", "443", 308, "https://api.example.test/hr/x?a=1"},
		{"POST keeps its method with 308", "POST", "api.example.test:80", "/login", "443", 308, "https://api.example.test/login"},
		{"case and trailing dot folded", "GET", "API.Example.TEST.:80", "/", "443", 308, "https://api.example.test/"},
		{"encoded path kept", "GET", "api.example.test", "/a%2Fb/%2e", "443", 308, "https://api.example.test/a%2Fb/%2e"},
		{"wildcard certificate", "GET", "x.wild.example.test", "/", "443", 308, "https://x.wild.example.test/"},
		{"challenge path without ACME", "GET", "api.example.test", "/.well-known/acme-challenge/x", "443", 308, "https://api.example.test/.well-known/acme-challenge/x"},
		{"unknown host", "GET", "evil.example", "/", "443", 421, ""},
		{"no host", "GET", "", "/", "443", 421, ""},
		{"IP address", "GET", "127.0.0.1:80", "/", "443", 421, ""},
		{"host header injection", "GET", "api.example.test@evil.example", "/", "443", 421, ""},
		{"OPTIONS *", "OPTIONS", "api.example.test", "*", "443", 400, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, "http://placeholder"+strings.TrimPrefix(c.target, "*"), strings.NewReader("body"))
			if c.target == "*" {
				r.URL.Path, r.RequestURI = "*", "*"
			}
			r.Host = c.host
			w := httptest.NewRecorder()
			m.HTTPHandler(c.tlsPort, nil).ServeHTTP(w, r)
			if w.Code != c.status || w.Header().Get("Location") != c.location {
				t.Errorf("got %d Location %q, want %d %q", w.Code, w.Header().Get("Location"), c.status, c.location)
			}
		})
	}
}

// TestHTTPHandler_ACMEChallenge: challenge requests for a configured name
// pass the host policy even with a port in Host (a CA validating on
// another port than 80 sends one); other names are refused; the rest of
// the listener redirects.
func TestHTTPHandler_ACMEChallenge(t *testing.T) {
	m := newManager(t, acmeSpec(t, newFakeCA(t), "api.example.test"), nil)
	h := m.HTTPHandler("443", nil)
	for _, c := range []struct {
		host, path string
		status     int
	}{
		{"api.example.test:5002", "/.well-known/acme-challenge/tok", 404}, // allowed; no such token
		{"api.example.test", "/.well-known/acme-challenge/tok", 404},
		{"evil.example:5002", "/.well-known/acme-challenge/tok", 403},
		{"api.example.test:80", "/hr", 308},
	} {
		r := httptest.NewRequest("GET", "http://x"+c.path, nil)
		r.Host = c.host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.status {
			t.Errorf("%s %s: got %d, want %d", c.host, c.path, w.Code, c.status)
		}
	}
}

// TestHSTS: the header is on every response, error responses that clear
// the header map included, replaces an upstream's value, and is absent
// with max-age 0.
func TestHSTS(t *testing.T) {
	handlers := map[string]http.HandlerFunc{
		"plain": func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) },
		"error clears headers": func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			for k := range h {
				delete(h, k)
			}
			http.Error(w, "no", http.StatusForbidden)
		},
		"upstream value replaced": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Strict-Transport-Security", "max-age=0")
			w.WriteHeader(http.StatusOK)
		},
		"flush": func(w http.ResponseWriter, r *http.Request) {
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("flush through the HSTS writer: %v", err)
			}
		},
	}
	for name, h := range handlers {
		t.Run(name, func(t *testing.T) {
			for _, c := range []struct {
				age  time.Duration
				sub  bool
				want string
			}{
				{365 * 24 * time.Hour, false, "max-age=31536000"},
				{time.Hour, true, "max-age=3600; includeSubDomains"},
				{0, false, ""},
			} {
				w := httptest.NewRecorder()
				HSTS(h, c.age, c.sub).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
				got := w.Result().Header.Values("Strict-Transport-Security")
				if name == "upstream value replaced" && c.want == "" {
					continue // without HSTS the upstream's value passes
				}
				if (c.want == "" && len(got) != 0) || (c.want != "" && (len(got) != 1 || got[0] != c.want)) {
					t.Errorf("max-age %v: got %q, want %q", c.age, got, c.want)
				}
			}
		})
	}
}

// TestHSTS_AfterInformational: a 1xx response does not use up the header;
// the final response still carries it (a real server: the recorder cannot
// send 1xx).
func TestHSTS_AfterInformational(t *testing.T) {
	srv := httptest.NewServer(HSTS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusNoContent)
	}), time.Hour, false))
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Strict-Transport-Security") != "max-age=3600" {
		t.Errorf("got %d with HSTS %q, want 204 with max-age=3600", res.StatusCode, res.Header.Get("Strict-Transport-Security"))
	}
}
