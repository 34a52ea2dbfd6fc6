package proxy

import (
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// httpsProxy puts the real handler in front of an https upstream whose
// certificate the proxy trusts through Options.UpstreamRootCAs.
func httpsProxy(t *testing.T, h http.HandlerFunc, timeout time.Duration) *httptest.Server {
	t.Helper()
	up := httptest.NewTLSServer(h)
	t.Cleanup(up.Close)
	roots := x509.NewCertPool()
	roots.AddCert(up.Certificate())
	spec := testSpec(t, up.URL)
	spec.Upstreams[0].Timeout = timeout
	snap, err := policy.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Options{Logger: slog.New(slog.DiscardHandler), UpstreamRootCAs: roots})
	srv.Load(snap, nil)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return ts
}

func TestTransport_HTTPSUpstreamBothTransports(t *testing.T) {
	ts := httpsProxy(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b)+" "+r.Proto)
	}, 2*time.Second)
	for _, tc := range []struct{ method, key, body, want string }{
		{"GET", testKey, "", "GET /api/employees  HTTP/1.1"},
		{"POST", testAdminKey, "hello", "POST /api/employees hello HTTP/1.1"},
	} {
		req, _ := http.NewRequest(tc.method, ts.URL+"/hr/employees", strings.NewReader(tc.body))
		req.Header.Set("X-API-Key", tc.key)
		res, body := do(t, ts.Client(), req)
		if res.StatusCode != 200 || body != tc.want {
			t.Errorf("%s: got %d %q, want 200 %q", tc.method, res.StatusCode, body, tc.want)
		}
	}
}

func TestTransport_HTTPSUpstreamTimeoutIs504(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	ts := httpsProxy(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}, 150*time.Millisecond)
	for _, method := range []string{"GET", "POST"} {
		key := testKey
		var body io.Reader
		if method == "POST" {
			key, body = testAdminKey, strings.NewReader("x")
		}
		req, _ := http.NewRequest(method, ts.URL+"/hr/employees", body)
		req.Header.Set("X-API-Key", key)
		res, b := do(t, ts.Client(), req)
		if res.StatusCode != http.StatusGatewayTimeout {
			t.Errorf("%s: got %d %s, want 504", method, res.StatusCode, b)
		}
	}
}

func TestTransport_UntrustedHTTPSUpstreamIs502(t *testing.T) {
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	spec := testSpec(t, up.URL)
	p := newTestProxy(t, spec) // system roots: the test CA is not trusted
	res, _ := p.get(t, "/hr/employees", map[string]string{"X-API-Key": testKey})
	if res.StatusCode != http.StatusBadGateway {
		t.Errorf("got %d, want 502", res.StatusCode)
	}
	if !strings.Contains(p.log.String(), "certificate") {
		t.Errorf("the log does not say why: %s", p.log.String())
	}
}
