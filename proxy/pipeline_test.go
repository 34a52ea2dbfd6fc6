package proxy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/policy"
)

func TestPipeline_Decisions(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	cases := []struct {
		name, method, path, key string
		extraKey                string
		status                  int
		reason                  string
		reachesUpstream         bool
	}{
		{"allowed", "GET", "/hr/employees/5", testKey, "", 200, "grant_allowed", true},
		{"missing key", "GET", "/hr/employees", "", "", 401, "missing_api_key", false},
		{"unknown key", "GET", "/hr/employees", "nope", "", 401, "unknown_api_key", false},
		{"inactive app", "GET", "/hr/employees", testInactiveKey, "", 401, "app_inactive", false},
		{"two keys", "GET", "/hr/employees", testKey, testAdminKey, 401, "ambiguous_api_key", false},
		{"deny beats allow", "GET", "/hr/employees/5/salary", testKey, "", 403, "grant_denied", false},
		{"deny with trailing slash", "GET", "/hr/employees/5/salary/", testKey, "", 403, "grant_denied", false},
		{"verb not granted", "DELETE", "/hr/employees/5", testKey, "", 403, "no_matching_grant", false},
		{"HEAD not implied by GET", "HEAD", "/hr/employees/5", testKey, "", 403, "no_matching_grant", false},
		{"no route with key", "GET", "/nowhere", testKey, "", 404, "no_route", false},
		{"no route without key", "GET", "/nowhere", "", "", 401, "missing_api_key", false},
		{"admin paths not on public listener", "GET", "/readyz", "", "", 401, "missing_api_key", false},
		{"case-sensitive prefix", "GET", "/HR/employees", testKey, "", 404, "no_route", false},
		{"manager may read salary", "GET", "/hr/employees/5/salary", testAdminKey, "", 200, "grant_allowed", true},
		{"upgrade other than websocket", "GET", "/hr/employees", testAdminKey, "", 400, "upgrade_refused", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(up.requests())
			req, _ := http.NewRequest(tc.method, p.URL+tc.path, nil)
			if tc.key != "" {
				req.Header.Add("X-API-Key", tc.key)
			}
			if tc.extraKey != "" {
				req.Header.Add("X-API-Key", tc.extraKey)
			}
			if tc.name == "upgrade other than websocket" {
				req.Header.Set("Connection", "Upgrade")
				req.Header.Set("Upgrade", "h2c")
			}
			res, body := do(t, p.Client(), req)
			if res.StatusCode != tc.status {
				t.Fatalf("got %d %s, want %d", res.StatusCode, body, tc.status)
			}
			reached := len(up.requests()) > before
			if reached != tc.reachesUpstream {
				t.Errorf("reached upstream = %v, want %v", reached, tc.reachesUpstream)
			}
			recs := p.log.records(t)
			last := recs[len(recs)-1]
			if last["reason"] != tc.reason {
				t.Errorf("logged reason %v, want %s", last["reason"], tc.reason)
			}
			if int(last["status"].(float64)) != tc.status {
				t.Errorf("logged status %v, want %d", last["status"], tc.status)
			}
		})
	}
}

func TestPipeline_AccessLogRecord(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	res, _ := p.get(t, "/hr/employees/7", map[string]string{"X-API-Key": testKey})
	recs := p.log.records(t)
	if len(recs) != 1 {
		t.Fatalf("got %d access records, want 1", len(recs))
	}
	r := recs[0]
	want := map[string]any{
		"request_id": res.Header.Get("X-Request-Id"), "method": "GET", "path": "/hr/employees/7",
		"status": float64(200), "app": "portal", "role": "reader", "upstream": "hr",
		"decision": "allow", "reason": "grant_allowed", "grant": "test.hcl:1,1", "user": "",
	}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("%s = %#v, want %#v", k, r[k], v)
		}
	}
	if _, ok := r["duration_ms"].(float64); !ok {
		t.Errorf("duration_ms missing: %v", r)
	}
	// Neither a valid nor a refused key is ever logged.
	p.get(t, "/hr/employees/7", map[string]string{"X-API-Key": "wrong-key-0123456789"})
	if s := p.log.String(); strings.Contains(s, testKey) || strings.Contains(s, "wrong-key-0123456789") {
		t.Error("an API key appears in the log")
	}
}

func TestErrors_ProductionHidesUpstreamDetails(t *testing.T) {
	// An upstream address with nothing listening.
	ports, err := testenv.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	dead := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	for _, production := range []bool{true, false} {
		spec := testSpec(t, dead)
		spec.Server.Production = production
		p := newTestProxy(t, spec)
		res, body := p.get(t, "/hr/employees", map[string]string{"X-API-Key": testKey})
		if res.StatusCode != http.StatusBadGateway {
			t.Fatalf("production=%v: got %d, want 502", production, res.StatusCode)
		}
		var parsed map[string]any
		if err := json.Unmarshal([]byte(body), &parsed); err != nil {
			t.Fatalf("error body is not JSON: %q", body)
		}
		if parsed["request_id"] != res.Header.Get("X-Request-Id") || parsed["request_id"] == "" {
			t.Errorf("request_id %v, header %q", parsed["request_id"], res.Header.Get("X-Request-Id"))
		}
		leaks := strings.Contains(body, "dial") || strings.Contains(body, "127.0.0.1") || strings.Contains(body, "refused")
		if production && leaks {
			t.Errorf("production body leaks details: %q", body)
		}
		if !production && !leaks {
			t.Errorf("development body should carry the detail: %q", body)
		}
		if !strings.Contains(p.log.String(), "connection refused") {
			t.Errorf("the log lacks the detail: %s", p.log.String())
		}
	}
}

func TestErrors_UpstreamTimeoutIs504(t *testing.T) {
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	spec := testSpec(t, up.URL)
	spec.Upstreams[0].Timeout = 100 * time.Millisecond
	p := newTestProxy(t, spec)
	res, body := p.get(t, "/hr/employees", map[string]string{"X-API-Key": testKey})
	if res.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("got %d %s, want 504", res.StatusCode, body)
	}
	recs := p.log.records(t)
	if recs[len(recs)-1]["reason"] != "upstream_timeout" {
		t.Errorf("reason %v, want upstream_timeout", recs[len(recs)-1]["reason"])
	}
}

func TestErrors_UpstreamInactiveAndNotReady(t *testing.T) {
	up := newUpstream(t, nil)
	spec := testSpec(t, up.URL)
	spec.Upstreams[0].Active = false
	p := newTestProxy(t, spec)
	res, _ := p.get(t, "/hr/employees", map[string]string{"X-API-Key": testKey})
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("inactive upstream: got %d, want 503", res.StatusCode)
	}
	empty := New(Options{Logger: p.srv.log})
	rec := httptest.NewRecorder()
	empty.ServeHTTP(rec, httptest.NewRequest("GET", "/hr/employees", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("no snapshot: got %d, want 503", rec.Code)
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("upstream got %d requests, want 0", n)
	}
}

func TestWebSocket_UpgradeOnlyAfterAuthorization(t *testing.T) {
	up := newUpstream(t, echoTunnel("echo:", 0))
	p := newTestProxy(t, testSpec(t, up.URL))
	addr := p.Listener.Addr().String()

	status, _ := raw(t, addr, "GET /hr/employees/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n\r\n")
	if !strings.Contains(status, " 401 ") {
		t.Fatalf("unauthenticated upgrade: got %q, want 401", status)
	}
	if n := len(up.requests()); n != 0 {
		t.Fatalf("unauthenticated upgrade reached the upstream")
	}
	status, _ = raw(t, addr, "GET /hr/employees/1/salary HTTP/1.1\r\nHost: x\r\nX-API-Key: "+testKey+"\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n\r\n")
	if !strings.Contains(status, " 403 ") {
		t.Fatalf("forbidden upgrade: got %q, want 403", status)
	}

	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, "GET /hr/employees/ws HTTP/1.1\r\nHost: x\r\nX-API-Key: "+testKey+"\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("got %d, want 101", res.StatusCode)
	}
	_, _ = io.WriteString(c, "ping\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "echo:ping\n" {
		t.Fatalf("tunnel: got %q, %v", line, err)
	}
	// The upgrade goes through http.Transport, which gets gatehouse's
	// headers in the request's Header (fieldsTransport).
	if h := up.last(t).Header; h.Get("X-Gatehouse-App") != "portal" || len(h["X-Request-Id"]) != 1 || h.Get("X-Forwarded-For") != "127.0.0.1" {
		t.Errorf("upgrade request's headers: %v", h)
	}
}

func TestAdmin_HealthAndReady(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	admin := httptest.NewServer(p.srv.AdminHandler(AdminOptions{}))
	defer admin.Close()
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/debug/pprof/": 404, "/hr/employees": 404} {
		res, body := do(t, admin.Client(), mustReq(t, admin.URL+path))
		if res.StatusCode != want {
			t.Errorf("%s: got %d, want %d", path, res.StatusCode, want)
		}
		if path == "/readyz" && !strings.Contains(body, `"config_hash":"testhash"`) {
			t.Errorf("/readyz body %q lacks the config hash", body)
		}
	}
	notReady := httptest.NewServer(New(Options{Logger: p.srv.log}).AdminHandler(AdminOptions{}))
	defer notReady.Close()
	if res, _ := do(t, notReady.Client(), mustReq(t, notReady.URL+"/readyz")); res.StatusCode != 503 {
		t.Errorf("/readyz before load: got %d, want 503", res.StatusCode)
	}
}

func TestReload_InFlightRequestKeepsItsSnapshot(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/slow") {
			close(entered)
			<-release
		}
		_, _ = io.WriteString(w, "ok")
	})
	spec := testSpec(t, up.URL)
	p := newTestProxy(t, spec)
	done := make(chan int)
	go func() {
		req, _ := http.NewRequest("GET", p.URL+"/hr/employees/slow", nil)
		req.Header.Set("X-API-Key", testKey)
		res, err := p.Client().Do(req)
		if err != nil {
			done <- 0
			return
		}
		res.Body.Close()
		done <- res.StatusCode
	}()
	<-entered
	// Swap in a snapshot where the portal app is inactive.
	spec.Apps[0].Active = false
	next, err := policy.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	p.srv.Load(next, nil)
	close(release)
	if got := <-done; got != 200 {
		t.Errorf("in-flight request: got %d, want 200", got)
	}
	res, _ := p.get(t, "/hr/employees", map[string]string{"X-API-Key": testKey})
	if res.StatusCode != 401 {
		t.Errorf("after reload: got %d, want 401 (app deactivated)", res.StatusCode)
	}
}

func mustReq(t *testing.T, u string) *http.Request {
	t.Helper()
	r, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
