package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// reloadConfig is config A or B of the reload test: /hr goes to upstream
// url; app "a" (key ka) may read under A only, app "b" (key kb) always.
const reloadConfig = `
server {
  listen       = "127.0.0.1:0"
  admin_listen = "127.0.0.1:0"
}

upstream "hr" {
  url    = "%s"
  prefix = "/hr"
}

app "a" {
  api_key_sha256 = "%s"
  default_role   = "%s"
}

app "b" {
  api_key_sha256 = "%s"
  default_role   = "reader"
}

role "reader" {
  allow "hr" {
    paths = ["/employees"]
    verbs = ["GET"]
  }
}

role "nothing" {
  allow "hr" {
    paths = ["/nothing"]
    verbs = ["GET"]
  }
}
`

// writer replaces the config file in one of the ways ops tools do.
type writer struct {
	dir string
	n   int
}

func (w *writer) write(t *testing.T, content string) {
	t.Helper()
	w.n++
	target := filepath.Join(w.dir, "gatehouse.hcl")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	switch w.n % 4 {
	case 0: // in place (through a symlink, if the last write made one)
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_TRUNC, 0o644)
		must(err)
		_, err = io.WriteString(f, content)
		must(err)
		must(f.Close())
	case 1: // editor rename-on-save
		tmp := filepath.Join(w.dir, ".gatehouse.hcl.tmp")
		must(os.WriteFile(tmp, []byte(content), 0o644))
		must(os.Rename(tmp, target))
	case 2: // git checkout: unlink, create
		must(os.Remove(target))
		must(os.WriteFile(target, []byte(content), 0o644))
	case 3: // Kubernetes ConfigMap: new timestamped dir, ..data swapped
		ts := fmt.Sprintf("..%04d", w.n)
		must(os.Mkdir(filepath.Join(w.dir, ts), 0o755))
		must(os.WriteFile(filepath.Join(w.dir, ts, "gatehouse.hcl"), []byte(content), 0o644))
		must(os.Symlink(ts, filepath.Join(w.dir, "..data_tmp")))
		must(os.Rename(filepath.Join(w.dir, "..data_tmp"), filepath.Join(w.dir, "..data")))
		link := filepath.Join(w.dir, ".link_tmp")
		must(os.Symlink("..data/gatehouse.hcl", link))
		must(os.Rename(link, target))
	}
}

func adminHash(t *testing.T, admin string) string {
	t.Helper()
	res, err := http.Get("http://" + admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]string
	_ = json.NewDecoder(res.Body).Decode(&m)
	return m["config_hash"]
}

func waitHash(t *testing.T, admin string, pred func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if h := adminHash(t, admin); pred(h) {
			return h
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("config hash did not change within 10s")
	return ""
}

// The reload bar: 32 clients for 20 s while the config flips between A and
// B 100 times with four write patterns. No transport error, no 5xx, every
// response consistent with one of the two configs, U2 only after B first
// landed, U1 nothing after the last B landed.
func TestReloadE2E_UnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("20 s load test")
	}
	var u1n, u2n atomic.Int64
	var bWritten atomic.Bool
	var early atomic.Int64 // U2 requests before B was first written
	u1 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u1n.Add(1)
		_, _ = io.WriteString(w, "u1")
	}))
	defer u1.Close()
	u2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u2n.Add(1)
		if !bWritten.Load() {
			early.Add(1)
		}
		_, _ = io.WriteString(w, "u2")
	}))
	defer u2.Close()
	confA := fmt.Sprintf(reloadConfig, u1.URL, hashKey("ka"), "reader", hashKey("kb"))
	confB := fmt.Sprintf(reloadConfig, u2.URL, hashKey("ka"), "nothing", hashKey("kb"))
	dir := t.TempDir()
	w := &writer{dir: dir}
	writeFile(t, filepath.Join(dir, "gatehouse.hcl"), confA)
	p := startBinary(t, "run", "--config", dir, "--watch-debounce", "40ms")
	t.Cleanup(func() { _ = p.stop(t) })
	hashA := adminHash(t, p.admin)

	var failures, bad, okA, okB, denied atomic.Int64
	var mu sync.Mutex
	var samples []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for i := range 32 {
		key := []string{"ka", "kb"}[i%2]
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", "http://"+p.public+"/hr/employees", nil)
				req.Header.Set("X-API-Key", key)
				res, err := client.Do(req)
				if err != nil {
					failures.Add(1)
					continue
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				body := string(b)
				switch {
				case res.StatusCode == 200 && body == "u1":
					okA.Add(1)
				case res.StatusCode == 200 && body == "u2" && key == "kb":
					okB.Add(1)
				case res.StatusCode == 403 && key == "ka":
					denied.Add(1) // B for app a
				default:
					bad.Add(1)
					mu.Lock()
					if len(samples) < 5 {
						samples = append(samples, fmt.Sprintf("%s: %d %.60q", key, res.StatusCode, body))
					}
					mu.Unlock()
				}
			}
		})
	}
	start := time.Now()
	var hashB string
	for i := range 100 {
		if i%2 == 0 {
			bWritten.Store(true)
			w.write(t, confB)
			hashB = waitHash(t, p.admin, func(h string) bool { return h != hashA && h != "" })
		} else {
			w.write(t, confA)
			waitHash(t, p.admin, func(h string) bool { return h == hashA })
		}
		// Spread the 100 swaps over about 20 s.
		if pause := time.Until(start.Add(time.Duration(i+1) * 200 * time.Millisecond)); pause > 0 {
			time.Sleep(pause)
		}
	}
	// The last swap was to A (i = 99). Finish with B and check that U1 gets
	// nothing once B is in service and requests of A have drained.
	w.write(t, confB)
	waitHash(t, p.admin, func(h string) bool { return h == hashB })
	time.Sleep(200 * time.Millisecond) // let requests that started on A finish
	u1After := u1n.Load()
	time.Sleep(500 * time.Millisecond) // load continues on B
	close(stop)
	wg.Wait()
	t.Logf("%v: %d ok on A, %d ok on B, %d denied (B), %d bad, %d transport errors; U1 %d, U2 %d requests; %d reloads",
		time.Since(start).Round(time.Millisecond), okA.Load(), okB.Load(), denied.Load(), bad.Load(), failures.Load(), u1n.Load(), u2n.Load(), w.n)
	if failures.Load() != 0 || bad.Load() != 0 {
		t.Errorf("%d transport errors, %d inconsistent responses: %q", failures.Load(), bad.Load(), samples)
	}
	if early.Load() != 0 {
		t.Errorf("U2 got %d requests before B was first written", early.Load())
	}
	if n := u1n.Load() - u1After; n != 0 {
		t.Errorf("U1 got %d requests after the last swap to B", n)
	}
	if okA.Load() == 0 || okB.Load() == 0 || denied.Load() == 0 {
		t.Error("the load did not see both configs")
	}
	reloaded := 0
	for _, l := range p.logs() {
		if l["msg"] == "config reloaded" {
			reloaded++
		}
	}
	if reloaded < 101 {
		t.Errorf("%d reloads logged, want 101", reloaded)
	}
}
