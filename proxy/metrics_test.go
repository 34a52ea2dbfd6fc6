package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/metrics"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// GET /metrics on the admin handler needs no session and counts what the
// access records say: sessions served from the cache, failed logins,
// refusals by reason; never a path or a user name as a label.
func TestAdmin_Metrics(t *testing.T) {
	up := newUpstream(t, nil)
	snap, err := policy.New(sessionSpec(t, up.URL))
	if err != nil {
		t.Fatal(err)
	}
	reg := metrics.New()
	srv := New(Options{Logger: discardLogger(), Metrics: reg})
	srv.Load(snap, nil)
	t.Cleanup(func() { srv.Close() })
	pub := httptest.NewServer(srv)
	t.Cleanup(pub.Close)
	admin := httptest.NewServer(srv.AdminHandler(AdminOptions{}))
	t.Cleanup(admin.Close)
	p := &testProxy{Server: pub, srv: srv}

	tok := p.mustLogin(t, testKey, "alice", "alicepw")
	if res, _, text := p.login(t, testKey, "alice", "wrong"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d %s", res.StatusCode, text)
	}
	for range 2 { // the second is served from the session cache
		if res, body := p.call(t, "GET", "/hr/employees/1", testKey, tok); res.StatusCode != 200 {
			t.Fatalf("with a session: %d %s", res.StatusCode, body)
		}
	}
	if res, body := p.call(t, "GET", "/hr/employees/1/salary", testKey, ""); res.StatusCode != 403 {
		t.Fatalf("denied: %d %s", res.StatusCode, body)
	}

	var body string
	deadline := time.Now().Add(10 * time.Second)
	for {
		body = getMetrics(t, admin.URL)
		if strings.Contains(body, "\ngatehouse_refusals_total{reason=\"grant_denied\"} 1\n") || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, line := range []string{
		`gatehouse_login_failures_total 1`,
		`gatehouse_refusals_total{reason="invalid_credentials"} 1`,
		`gatehouse_refusals_total{reason="grant_denied"} 1`,
		`gatehouse_requests_total{app="portal",code_class="2xx",decision="allow",upstream="hr"} 2`,
		`gatehouse_requests_total{app="portal",code_class="4xx",decision="deny",upstream="hr"} 1`,
		`gatehouse_session_cache_hits_total 1`,
		`gatehouse_config_info{hash="testhash"} 1`,
	} {
		if !strings.Contains(body, "\n"+line+"\n") {
			t.Errorf("no %q in the scrape", line)
		}
	}
	for _, raw := range []string{"alice", "employees", "salary", "/auth", "127.0.0.1"} {
		for line := range strings.SplitSeq(body, "\n") {
			if i := strings.IndexByte(line, '{'); i >= 0 && !strings.HasPrefix(line, "#") && strings.Contains(line[i:], raw) {
				t.Errorf("label value from a request (%q): %s", raw, line)
			}
		}
	}

	// Without a registry there is no /metrics.
	bare := New(Options{Logger: discardLogger()})
	t.Cleanup(func() { bare.Close() })
	rec := httptest.NewRecorder()
	bare.AdminHandler(AdminOptions{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET /metrics without a registry: %d, want 404", rec.Code)
	}
}

func getMetrics(t *testing.T, base string) string {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %s", res.StatusCode, b)
	}
	return string(b)
}
