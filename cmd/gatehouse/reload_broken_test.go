package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy/password"
)

const brokenBase = `
server {
  listen       = "127.0.0.1:0"
  admin_listen = "127.0.0.1:0"
}

sessions {
  signing_key = "reload-test-signing-key-0123456789abcdef"
}

upstream "hr" {
  url    = "%s"
  prefix = "/hr"
}

app "portal" {
  api_key_sha256 = "%s"
  default_role   = "reader"
}

role "reader" {
  allow "hr" {
    paths = ["/employees"]
    verbs = ["GET"]
  }
}

admin "root" {
  password_hash = "%s"
}

user "alice" {
  password_hash = "%s"
  roles         = { portal = "reader" }
  active        = %t
}
`

// Broken configs written while traffic flows change nothing; the admin
// endpoint shows why; a fix reloads; a deactivated user is refused on the
// next request.
func TestReloadE2E_BrokenConfigsAndDeactivation(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer up.Close()
	hash := func(pw string) string {
		h, err := password.New(pw, password.Argon2Params{Memory: 1024, Time: 1, Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	rootHash, aliceHash := hash("rootpw"), hash("alicepw")
	conf := func(aliceActive bool, extra string) string {
		return fmt.Sprintf(brokenBase, up.URL, hashKey("k1"), rootHash, aliceHash, aliceActive) + extra
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "gatehouse.hcl")
	writeFile(t, file, conf(true, ""))
	p := startBinary(t, "run", "--config", dir, "--watch-debounce", "40ms")
	t.Cleanup(func() { _ = p.stop(t) })
	base := "http://" + p.public

	login := func(body string, key string) string {
		req, _ := http.NewRequest("POST", base+"/auth/login", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]string
		_ = json.NewDecoder(res.Body).Decode(&m)
		if res.StatusCode != 200 {
			t.Fatalf("login %s: %d", body, res.StatusCode)
		}
		return m["session_token"]
	}
	adminTok := login(`{"username":"root","password":"rootpw"}`, "")
	aliceTok := login(`{"username":"alice","password":"alicepw"}`, "k1")

	// Traffic during the broken writes.
	var errs, total atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", base+"/hr/employees", nil)
				req.Header.Set("X-API-Key", "k1")
				req.Header.Set("Authorization", "Bearer "+aliceTok)
				res, err := http.DefaultClient.Do(req)
				total.Add(1)
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					errs.Add(1)
				}
			}
		})
	}
	adminConfig := func() map[string]any {
		req, _ := http.NewRequest("GET", "http://"+p.admin+"/admin/config", nil)
		req.Header.Set("Authorization", "Bearer "+adminTok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		m := map[string]any{}
		_ = json.NewDecoder(res.Body).Decode(&m)
		if res.StatusCode != 200 {
			t.Fatalf("/admin/config: %d %v", res.StatusCode, m)
		}
		return m
	}
	waitFailures := func(n float64) map[string]any {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if m := adminConfig(); m["reloads_failed"] == n {
				return m
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("reloads_failed did not reach %v", n)
		return nil
	}
	firstHash := adminConfig()["config_hash"]
	broken := []struct{ extra, want string }{
		{"\nrole \"broken\" {\n  allow \"hr\" {\n", "Unclosed configuration block"},
		{"\nrole \"extra\" {\n  allow \"payroll\" {\n    paths = [\"/x\"]\n    verbs = [\"GET\"]\n  }\n}\n", "Unknown upstream"},
		{"\nrole \"filtered\" {\n  allow \"hr\" {\n    paths  = [\"/x\"]\n    verbs  = [\"GET\"]\n    filter = \"record.level <=\"\n  }\n}\n", "Invalid filter"},
	}
	for i, b := range broken {
		writeFile(t, file, conf(true, b.extra))
		m := waitFailures(float64(i + 1))
		if m["config_hash"] != firstHash || !strings.Contains(fmt.Sprint(m["last_error"]), b.want) {
			t.Errorf("broken #%d: hash %v, last_error %v; want the old hash and %q", i, m["config_hash"], m["last_error"], b.want)
		}
	}
	// An in-place save caught between its truncation and its write: an
	// empty file is refused on reload like a broken one (it would refuse
	// every request: no apps, no upstreams).
	writeFile(t, file, "")
	if m := waitFailures(float64(len(broken) + 1)); m["config_hash"] != firstHash || !strings.Contains(fmt.Sprint(m["last_error"]), "Empty configuration") {
		t.Errorf("empty file: hash %v, last_error %v; want the old hash and \"Empty configuration\"", m["config_hash"], m["last_error"])
	}
	close(stop)
	wg.Wait()
	if errs.Load() != 0 || total.Load() == 0 {
		t.Errorf("%d of %d requests failed while broken configs were written", errs.Load(), total.Load())
	}

	// Deactivate alice: her next request after the reload is a 401.
	writeFile(t, file, conf(false, ""))
	deadline := time.Now().Add(10 * time.Second)
	for adminConfig()["config_hash"] == firstHash && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if m := adminConfig(); m["config_hash"] == firstHash || m["last_error"] != nil {
		t.Fatalf("the fixed config did not load: %v", m)
	}
	req, _ := http.NewRequest("GET", base+"/hr/employees", nil)
	req.Header.Set("X-API-Key", "k1")
	req.Header.Set("Authorization", "Bearer "+aliceTok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("deactivated user: %d, want 401", res.StatusCode)
	}
}
