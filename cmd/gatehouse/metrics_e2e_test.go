package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// metricsConfig has a working upstream (hr) and one whose address refuses
// connections (down): %s is hr's URL, %s the app's key hash, %s a closed
// address.
const metricsConfig = `
server {
  listen       = "127.0.0.1:0"
  admin_listen = "127.0.0.1:0"
  production   = true
}

upstream "hr" {
  url    = "%s"
  prefix = "/hr"
}

upstream "down" {
  url    = "http://%s"
  prefix = "/down"
}

app "portal" {
  api_key_sha256 = "%s"
  default_role   = "reader"
}

role "reader" {
  allow "hr" {
    paths = ["/employees", "/employees/*"]
    verbs = ["GET"]
  }
  deny "hr" {
    paths = ["/employees/*/salary"]
    verbs = ["GET"]
  }
  allow "down" {
    paths = ["/*"]
    verbs = ["GET"]
  }
}
`

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", freePort(t))
}

// scrape returns the admin listener's /metrics body.
func scrape(t *testing.T, admin string) string {
	t.Helper()
	res, body := get(t, "http://"+admin+"/metrics", nil)
	if res.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %s", res.StatusCode, body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("GET /metrics Content-Type %q, want the text format", ct)
	}
	return body
}

// sample returns the value of the series (its exact text up to the value,
// labels sorted by name as the exposition writes them), and whether it is
// there.
func sample(body, series string) (float64, bool) {
	for line := range strings.SplitSeq(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			return v, err == nil
		}
	}
	return 0, false
}

// waitSample polls /metrics (bounded) until series has a value that pred
// accepts, and returns the last scrape.
func waitSample(t *testing.T, admin, series string, pred func(float64) bool) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var body string
	for time.Now().Before(deadline) {
		body = scrape(t, admin)
		if v, ok := sample(body, series); ok && pred(v) {
			return body
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s not as expected within 20s:\n%s", series, gatehouseLines(body))
	return ""
}

func gatehouseLines(body string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(body, "\n") {
		if strings.HasPrefix(line, "gatehouse_") && !strings.Contains(line, "_bucket{") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func TestMetrics_ScrapeAfterRequests(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	defer up.Close()
	dir := t.TempDir()
	p := startWithConfig(t, dir, fmt.Sprintf(metricsConfig, up.URL, closedAddr(t), hashKey("k1")))
	base := "http://" + p.public
	key := map[string]string{"X-API-Key": "k1"}

	for _, c := range []struct {
		path string
		hdr  map[string]string
		want int
	}{
		{"/hr/employees/7", key, 200},
		{"/hr/employees/8", key, 200},
		{"/hr/employees/7/salary", key, 403},
		{"/hr/employees/7", nil, 401},
		{"/down/x", key, 502},
		{"/elsewhere/alice", key, 404},
	} {
		if res, body := get(t, base+c.path, c.hdr); res.StatusCode != c.want {
			t.Fatalf("GET %s: %d %s, want %d", c.path, res.StatusCode, body, c.want)
		}
	}
	// Login-shaped requests with a user name in the path and the query
	// must not put it in a label either.
	_, _ = get(t, base+"/hr/employees?user=mallory", map[string]string{"X-API-Key": "wrong"})

	// The access record of the last request is written after its
	// response: poll until it is counted.
	body := waitSample(t, p.admin, `gatehouse_refusals_total{reason="unknown_api_key"}`, func(v float64) bool { return v == 1 })
	for series, want := range map[string]float64{
		`gatehouse_requests_total{app="portal",code_class="2xx",decision="allow",upstream="hr"}`:  2,
		`gatehouse_requests_total{app="portal",code_class="4xx",decision="deny",upstream="hr"}`:   1,
		`gatehouse_requests_total{app="none",code_class="4xx",decision="deny",upstream="hr"}`:     2,
		`gatehouse_requests_total{app="portal",code_class="5xx",decision="deny",upstream="down"}`: 1,
		`gatehouse_requests_total{app="portal",code_class="4xx",decision="deny",upstream="none"}`: 1,
		`gatehouse_refusals_total{reason="grant_denied"}`:                                         1,
		`gatehouse_refusals_total{reason="missing_api_key"}`:                                      1,
		`gatehouse_refusals_total{reason="upstream_unavailable"}`:                                 1,
		`gatehouse_refusals_total{reason="no_route"}`:                                             1,
		`gatehouse_upstream_errors_total{kind="unavailable",upstream="down"}`:                     1,
		`gatehouse_upstream_errors_total{kind="timeout",upstream="down"}`:                         0,
		`gatehouse_upstream_latency_seconds_count{upstream="hr"}`:                                 2,
		`gatehouse_upstream_latency_seconds_count{upstream="down"}`:                               1,
		`gatehouse_request_duration_seconds_count{upstream="hr"}`:                                 5,
		`gatehouse_config_reloads_total{result="ok"}`:                                             0,
		`gatehouse_config_reloads_total{result="failed"}`:                                         0,
	} {
		if got, ok := sample(body, series); !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "gatehouse_session_cache_hits_total", "gatehouse_config_last_reload_success_timestamp_seconds"} {
		if !strings.Contains(body, "\n"+name+" ") {
			t.Errorf("no %s series", name)
		}
	}
	// Bounded labels: no path, user name, key or client address.
	for _, raw := range []string{"employees", "salary", "elsewhere", "alice", "mallory", "/hr", "/down", "127.0.0.1", "k1\"", "wrong"} {
		for line := range strings.SplitSeq(body, "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			if i := strings.IndexByte(line, '{'); i >= 0 && strings.Contains(line[i:], raw) {
				t.Errorf("label value from a request (%q): %s", raw, line)
			}
		}
	}
	// One gatehouse_config_info series, with the hash /readyz reports.
	hash := adminHashReadyz(t, p.admin)
	if v, ok := sample(body, `gatehouse_config_info{hash="`+hash+`"}`); !ok || v != 1 {
		t.Errorf("gatehouse_config_info of %s = %v (present %v):\n%s", hash, v, ok, gatehouseLines(body))
	}

	// A reload that fails, then one that succeeds: counted, and the info
	// series follows the configuration in service.
	cfg := filepath.Join(dir, "gatehouse.hcl")
	writeFile(t, cfg, "upstream \"hr\" {\n")
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	waitSample(t, p.admin, `gatehouse_config_reloads_total{result="failed"}`, func(v float64) bool { return v >= 1 })
	writeFile(t, cfg, fmt.Sprintf(metricsConfig, up.URL, closedAddr(t), hashKey("k2")))
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	waitSample(t, p.admin, `gatehouse_config_reloads_total{result="ok"}`, func(v float64) bool { return v >= 1 })
	next := adminHashReadyz(t, p.admin)
	if next == hash {
		t.Fatalf("config hash unchanged after the reload: %s", hash)
	}
	// A scrape gathers its collectors concurrently, so the one that saw
	// the reload counted may have read the info series just before the
	// reload: scrape again until the new hash shows (bounded).
	body = waitSample(t, p.admin, `gatehouse_config_info{hash="`+next+`"}`, func(v float64) bool { return v == 1 })
	if strings.Count(body, "\ngatehouse_config_info{") != 1 {
		t.Errorf("want one gatehouse_config_info series:\n%s", gatehouseLines(body))
	}
	if _, ok := sample(body, `gatehouse_config_info{hash="`+next+`"}`); !ok {
		t.Errorf("gatehouse_config_info lacks the new hash %s:\n%s", next, gatehouseLines(body))
	}
	if err := p.stop(t); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}

// adminHashReadyz returns the config hash /readyz reports.
func adminHashReadyz(t *testing.T, admin string) string {
	t.Helper()
	_, body := get(t, "http://"+admin+"/readyz", nil)
	const k = `"config_hash":"`
	i := strings.Index(body, k)
	if i < 0 {
		t.Fatalf("/readyz: no config_hash in %s", body)
	}
	rest := body[i+len(k):]
	return rest[:strings.IndexByte(rest, '"')]
}

// TestMetrics_PromtoolCheck pipes a scrape, after allowed, refused and
// failed requests, through `promtool check metrics` (Debian's prometheus
// package), which must report nothing.
func TestMetrics_PromtoolCheck(t *testing.T) {
	testenv.Need(t, "promtool", "apt-get install -y --no-install-recommends prometheus")
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	defer up.Close()
	p := startWithConfig(t, t.TempDir(), fmt.Sprintf(metricsConfig, up.URL, closedAddr(t), hashKey("k1")))
	base := "http://" + p.public
	for _, path := range []string{"/hr/employees/1", "/hr/employees/1/salary", "/down/x", "/nowhere"} {
		_, _ = get(t, base+path, map[string]string{"X-API-Key": "k1"})
	}
	body := waitSample(t, p.admin, `gatehouse_refusals_total{reason="no_route"}`, func(v float64) bool { return v == 1 })
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || out.Len() > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out.String())
	}
	// The check is not vacuous: promtool does refuse a bad exposition.
	bad := exec.Command(promtool, "check", "metrics")
	bad.Stdin = strings.NewReader("# TYPE gatehouse_x counter\ngatehouse_x 1\n")
	if outBad, err := bad.CombinedOutput(); err == nil {
		t.Errorf("promtool accepted a counter without _total: %s", outBad)
	}
	if err := p.stop(t); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}

// With a cluster block, /metrics follows the Redis health and counts its
// errors.
func TestMetrics_Cluster(t *testing.T) {
	r := startClusterRedis(t)
	p := startWithConfig(t, t.TempDir(), clusterConfig(r.Addr))
	body := waitSample(t, p.admin, "gatehouse_cluster_up", func(v float64) bool { return v == 1 })
	if v, ok := sample(body, "gatehouse_cluster_redis_errors_total"); !ok || v != 0 {
		t.Errorf("gatehouse_cluster_redis_errors_total = %v (present %v) with Redis up, want 0", v, ok)
	}
	if err := r.Kill(); err != nil {
		t.Fatal(err)
	}
	waitSample(t, p.admin, "gatehouse_cluster_up", func(v float64) bool { return v == 0 })
	waitSample(t, p.admin, "gatehouse_cluster_redis_errors_total", func(v float64) bool { return v >= 1 })
	if err := p.stop(t); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}
