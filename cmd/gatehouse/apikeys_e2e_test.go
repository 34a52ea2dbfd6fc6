package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
)

// keygenBlock runs `gatehouse keygen` with args and returns the key and
// the api_key block it printed.
func keygenBlock(t *testing.T, args ...string) (key, block string) {
	t.Helper()
	code, stdout, stderr := runCmd(t, t.TempDir(), append([]string{"keygen"}, args...)...)
	if code != 0 {
		t.Fatalf("keygen %v: exit %d %s", args, code, stderr)
	}
	m := regexp.MustCompile(`(?s)shown once\): (gh_[A-Za-z0-9_-]{43})\n.*\n\n(  api_key .*\n  }\n)$`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("keygen %v: unexpected output:\n%s", args, stdout)
	}
	return m[1], m[2]
}

const rotationConfig = `
server {
  listen       = "127.0.0.1:0"
  admin_listen = "127.0.0.1:0"
  production   = false # refusals carry their reason in the body too
}

upstream "hr" {
  url    = "%s"
  prefix = "/hr"
}

role "reader" {
  allow "hr" {
    paths = ["/employees", "/employees/*"]
    verbs = ["GET"]
  }
}

app "portal" {
  default_role = "reader"

%s}
`

// The bar of issue 21 point 7, through the binary: two keys on one app
// both work, the access log names which one each request used, a key past
// its not_after is refused with its own reason without reaching the
// upstream, and removing the old key (reload) ends the rotation.
func TestRun_APIKeyRotation(t *testing.T) {
	var mu sync.Mutex
	reached := map[string]int{} // by the path the upstream saw
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reached[r.URL.Path]++
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	defer up.Close()

	oldKey, oldBlock := keygenBlock(t, "--label", "2026-12")
	newKey, newBlock := keygenBlock(t, "--label", "2027-01")
	expiredAt := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	expiredKey, expiredBlock := keygenBlock(t, "--label", "2025-12", "--not-after", expiredAt)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gatehouse.hcl")
	writeFile(t, cfg, fmt.Sprintf(rotationConfig, up.URL, oldBlock+newBlock+expiredBlock))

	// keygen's blocks are in canonical form, and validate warns about the
	// expired key at its not_after.
	src, _ := os.ReadFile(cfg)
	if formatted, diags := config.Format(cfg, src); diags.HasErrors() || string(formatted) != string(src) {
		t.Errorf("keygen's blocks are not in gatehouse fmt's layout:\n%s", src)
	}
	code, _, stderr := runCmd(t, dir, "validate", "--config", cfg)
	if code != 0 || !regexp.MustCompile(`gatehouse\.hcl:\d+:\d+: warning: API key expired`).MatchString(stderr) || !strings.Contains(stderr, `"2025-12"`) {
		t.Errorf("validate: exit %d, want 0 and a warning about key 2025-12:\n%s", code, stderr)
	}

	p := startBinary(t, "run", "--config", cfg)
	base := "http://" + p.public
	call := func(path, key string) (int, map[string]any) {
		t.Helper()
		res, body := get(t, base+path, map[string]string{"X-API-Key": key})
		id := res.Header.Get("X-Request-Id")
		rec := p.waitFor(t, "access record of "+path, func(m map[string]any) bool {
			return m["msg"] == "request" && m["request_id"] == id
		})
		if res.StatusCode != 200 && !strings.Contains(body, fmt.Sprint(rec["reason"])) {
			t.Errorf("%s: body %q does not carry reason %v", path, body, rec["reason"])
		}
		return res.StatusCode, rec
	}

	for _, tc := range []struct {
		path, key, name string
		status          int
		reason          string
	}{
		{"/hr/employees/1", oldKey, "2026-12", 200, "grant_allowed"},
		{"/hr/employees/2", newKey, "2027-01", 200, "grant_allowed"},
		{"/hr/employees/3", expiredKey, "2025-12", 401, "api_key_expired"},
	} {
		status, rec := call(tc.path, tc.key)
		if status != tc.status || rec["reason"] != tc.reason || rec["app"] != "portal" || rec["key"] != tc.name {
			t.Errorf("%s: got %d, logged reason %v app %v key %v; want %d %s portal %s",
				tc.path, status, rec["reason"], rec["app"], rec["key"], tc.status, tc.reason, tc.name)
		}
	}
	// The metrics name the keys too (never the keys themselves).
	body := scrape(t, p.admin)
	for _, name := range []string{"2026-12", "2027-01", "2025-12"} {
		if v, ok := sample(body, `gatehouse_api_key_requests_total{app="portal",key="`+name+`"}`); !ok || v != 1 {
			t.Errorf("gatehouse_api_key_requests_total for key %s: %v (present %v), want 1", name, v, ok)
		}
	}
	for _, k := range []string{oldKey, newKey, expiredKey} {
		if strings.Contains(body, k) {
			t.Fatal("a key appears in /metrics")
		}
	}
	mu.Lock()
	if reached["/employees/1"] != 1 || reached["/employees/2"] != 1 || reached["/employees/3"] != 0 {
		t.Errorf("upstream saw %v; want /employees/1 and /employees/2 once, /employees/3 never", reached)
	}
	mu.Unlock()
	for _, l := range p.logs() {
		if s := fmt.Sprint(l); strings.Contains(s, oldKey) || strings.Contains(s, newKey) || strings.Contains(s, expiredKey) {
			t.Fatalf("a key appears in the log: %v", l)
		}
	}

	// The old key's traffic has stopped: remove it, reload, and it is
	// unknown while the new one keeps working.
	writeFile(t, cfg, fmt.Sprintf(rotationConfig, up.URL, newBlock))
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, _ := get(t, base+"/hr/employees/4", map[string]string{"X-API-Key": oldKey})
		if res.StatusCode == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the removed key still answers %d 20s after SIGHUP", res.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status, rec := call("/hr/employees/5", oldKey); status != 401 || rec["reason"] != "unknown_api_key" || rec["key"] != "" {
		t.Errorf("removed key: got %d, logged reason %v key %v; want 401 unknown_api_key and no key", status, rec["reason"], rec["key"])
	}
	if status, rec := call("/hr/employees/6", newKey); status != 200 || rec["key"] != "2027-01" {
		t.Errorf("new key after the reload: got %d, logged key %v; want 200, 2027-01", status, rec["key"])
	}
	if err := p.stop(t); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}
