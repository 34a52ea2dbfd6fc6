package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, r *Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func has(t *testing.T, body, line string) {
	t.Helper()
	if !strings.Contains(body, "\n"+line+"\n") {
		t.Errorf("no line %q in:\n%s", line, body)
	}
}

func TestRequest_Series(t *testing.T) {
	for _, c := range []struct {
		name string
		q    Request
		want []string
	}{
		{"allowed", Request{Upstream: "hr", App: "portal", Status: 200, Duration: time.Millisecond, UpstreamSent: true, UpstreamLatency: time.Millisecond},
			[]string{`gatehouse_requests_total{app="portal",code_class="2xx",decision="allow",upstream="hr"} 1`,
				`gatehouse_upstream_latency_seconds_count{upstream="hr"} 1`}},
		{"refused before routing", Request{Deny: true, Status: 404, Reason: "no_route"},
			[]string{`gatehouse_requests_total{app="none",code_class="4xx",decision="deny",upstream="none"} 1`,
				`gatehouse_refusals_total{reason="no_route"} 1`}},
		{"upstream timeout", Request{Upstream: "hr", App: "portal", Deny: true, Status: 504, Reason: "upstream_timeout", UpstreamSent: true, UpstreamError: UpstreamTimeout},
			[]string{`gatehouse_upstream_errors_total{kind="timeout",upstream="hr"} 1`,
				`gatehouse_upstream_errors_total{kind="unavailable",upstream="hr"} 0`}},
		{"failed login", Request{Deny: true, Status: 401, Reason: "invalid_credentials"},
			[]string{`gatehouse_login_failures_total 1`, `gatehouse_login_limited_total 0`}},
		{"login limited", Request{Deny: true, Status: 429, Reason: "login_rate_limited"},
			[]string{`gatehouse_login_limited_total 1`, `gatehouse_refusals_total{reason="login_rate_limited"} 1`}},
		{"record filter", Request{Upstream: "hr", Status: 200, Filtered: true, Records: 10, Removed: 3},
			[]string{`gatehouse_filter_records_total 10`, `gatehouse_filter_records_removed_total 3`}},
		{"api key", Request{Upstream: "hr", App: "portal", Key: "2027-01", Status: 200},
			[]string{`gatehouse_api_key_requests_total{app="portal",key="2027-01"} 1`}},
		{"dry run", Request{Upstream: "hr", App: "portal", Status: 200, DryRun: "would_deny"},
			[]string{`gatehouse_dry_run_total{outcome="would_deny"} 1`, `gatehouse_dry_run_total{outcome="would_allow"} 0`}},
		{"no status", Request{Upstream: "hr", Status: 0},
			[]string{`gatehouse_requests_total{app="none",code_class="none",decision="allow",upstream="hr"} 1`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := New()
			r.Request(&c.q)
			body := scrape(t, r)
			for _, w := range c.want {
				has(t, body, w)
			}
		})
	}
}

// The request path allocates nothing once a label combination was seen.
func TestRequest_NoAllocations(t *testing.T) {
	r := New()
	q := Request{Upstream: "hr", App: "portal", Key: "2027-01", Status: 200, Duration: time.Millisecond, UpstreamSent: true, UpstreamLatency: time.Millisecond}
	deny := Request{Upstream: "hr", App: "portal", Deny: true, Status: 403, Reason: "grant_denied"}
	r.Request(&q)
	r.Request(&deny)
	if n := testing.AllocsPerRun(1000, func() { r.Request(&q); r.Request(&deny) }); n != 0 {
		t.Errorf("Request allocates %v times per call pair", n)
	}
}

func TestConfigLoaded_OneSeries(t *testing.T) {
	r := New()
	at := time.Unix(1700000000, 0)
	r.ConfigLoaded("aaa", at)
	r.ConfigLoaded("bbb", at.Add(time.Second))
	body := scrape(t, r)
	has(t, body, `gatehouse_config_info{hash="bbb"} 1`)
	if strings.Contains(body, `hash="aaa"`) {
		t.Errorf("the previous hash's series is still there:\n%s", body)
	}
	has(t, body, `gatehouse_config_last_reload_success_timestamp_seconds 1.700000001e+09`)
}

func TestExtensionAPI(t *testing.T) {
	r := New()
	vec := r.NewCounterVec("gatehouse_test_refusals_total", "test", "app")
	c := vec.With("portal")
	c.Inc()
	c.Add(2)
	r.NewGaugeFunc("gatehouse_test_up", "test", func() float64 { return Bool(true) })
	r.LabeledGaugesFunc("gatehouse_test_expiry_timestamp_seconds", "test", "name", func() map[string]float64 {
		return map[string]float64{"a.example": 5}
	})
	body := scrape(t, r)
	has(t, body, `gatehouse_test_refusals_total{app="portal"} 3`)
	has(t, body, `gatehouse_test_up 1`)
	has(t, body, `gatehouse_test_expiry_timestamp_seconds{name="a.example"} 5`)
}

// A nil Registry records nothing and does not panic.
func TestNilRegistry(t *testing.T) {
	var r *Registry
	r.Request(&Request{Status: 200})
	r.ConfigLoaded("x", time.Now())
	r.NewCounterVec("gatehouse_x_total", "x", "a").With("b").Inc()
	r.NewCounterFunc("gatehouse_y_total", "y", func() float64 { return 0 })
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 404 {
		t.Errorf("nil registry's handler: %d, want 404", rec.Code)
	}
}

func BenchmarkRequest(b *testing.B) {
	r := New()
	q := Request{Upstream: "hr", App: "portal", Key: "2027-01", Status: 200, Duration: time.Millisecond, UpstreamSent: true, UpstreamLatency: time.Millisecond}
	b.ReportAllocs()
	for b.Loop() {
		r.Request(&q)
	}
}
