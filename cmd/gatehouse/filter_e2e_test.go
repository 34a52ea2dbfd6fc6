package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const filterConfig = `
server {
  listen       = "127.0.0.1:0"
  admin_listen = "127.0.0.1:0"
}

lookups {
  department = "sales"
}

upstream "hr" {
  url    = "%s"
  prefix = "/hr"
}

app "portal" {
  api_key_sha256 = "%s"
  default_role   = "clerk"
}

role "clerk" {
  allow "hr" {
    paths   = ["/records"]
    verbs   = ["GET", "POST"]
    records = "data"
    filter  = "record.department == lookup.department && record.level <= 3"
  }
}
`

// recordStream writes {"data":[...],"total":n} with n generated records
// without holding them in memory.
func recordStream(w io.Writer, n int) {
	_, _ = io.WriteString(w, `{"data":[`)
	buf := make([]byte, 0, 256)
	for i := range n {
		buf = buf[:0]
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = fmt.Appendf(buf, `{"id":%d,"name":"employee number %d","department":%q,"level":%d,"email":"e%d@example.test","active":true}`,
			i, i, []string{"sales", "ops", "hr"}[i%3], i%6, i)
		_, _ = w.Write(buf)
	}
	fmt.Fprintf(w, `],"total":%d}`, n)
}

func filterUpstream(t *testing.T) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			_, _ = w.Write(b)
			return
		}
		recordStream(w, n)
	}))
	t.Cleanup(up.Close)
	return up
}

// Record filtering through the real binary against a real upstream.
func TestFilterE2E(t *testing.T) {
	up := filterUpstream(t)
	p := startWithConfig(t, t.TempDir(), fmt.Sprintf(filterConfig, up.URL, hashKey("k1")))
	t.Cleanup(func() { _ = p.stop(t) })
	base := "http://" + p.public
	res, body := get(t, base+"/hr/records?n=600", map[string]string{"X-API-Key": "k1"})
	var doc struct {
		Data  []map[string]any `json:"data"`
		Total int              `json:"total"`
	}
	if err := json.Unmarshal([]byte(body), &doc); res.StatusCode != 200 || err != nil {
		t.Fatalf("GET: %d %v", res.StatusCode, err)
	}
	// Of 600: department sales is i%3==0 (200), level<=3 among those is
	// i%6 in {0,2}... i%3==0 means i%6 in {0,3}: both <= 3, so 200 kept.
	if len(doc.Data) != 200 || doc.Total != 600 {
		t.Errorf("kept %d records (total %d), want 200 (total left as 600)", len(doc.Data), doc.Total)
	}
	for _, r := range doc.Data {
		if r["department"] != "sales" || r["level"].(float64) > 3 {
			t.Fatalf("record %v leaked", r)
		}
	}
	// Writes: a record the caller may not write never reaches the upstream.
	post := func(b string) int {
		req, _ := http.NewRequest("POST", base+"/hr/records", strings.NewReader(b))
		req.Header.Set("X-API-Key", "k1")
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if c := post(`{"department":"ops","level":1}`); c != 403 {
		t.Errorf("foreign record write: %d, want 403", c)
	}
	rec := p.waitFor(t, "access record with removed records", func(m map[string]any) bool {
		return m["msg"] == "request" && m["records_removed"] == float64(400)
	})
	if rec["records"] != float64(600) {
		t.Errorf("access record %v", rec)
	}
}

// The memory bar of record filtering: a 50 MB filtered response adds
// less than 16 MB to the process's peak RSS. Measured on a binary built
// without the race detector (which multiplies memory), from VmHWM.
func TestFilterE2E_MemoryOf50MBResponse(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc (Linux)")
	}
	bin := filepath.Join(t.TempDir(), "gatehouse")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	up := filterUpstream(t)
	cfg := filepath.Join(t.TempDir(), "gatehouse.hcl")
	writeFile(t, cfg, fmt.Sprintf(filterConfig, up.URL, hashKey("k1")))
	saved := binPath
	binPath = bin
	p := startBinary(t, "run", "--config", cfg)
	binPath = saved
	t.Cleanup(func() { _ = p.stop(t) })
	base := "http://" + p.public
	fetch := func(n int) int64 {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/hr/records?n=%d", base, n), nil)
		req.Header.Set("X-API-Key", "k1")
		c := &http.Client{Timeout: 120 * time.Second}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		got, err := io.Copy(io.Discard, res.Body)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("fetch %d: %d %v", n, res.StatusCode, err)
		}
		return got
	}
	fetch(1000) // warm up pools and buffers
	before := vmHWM(t, p.cmd.Process.Pid)
	const n = 430_000 // about 50 MB of records
	out := fetch(n)
	after := vmHWM(t, p.cmd.Process.Pid)
	grew := after - before
	t.Logf("50 MB filtered response (%d records, %d bytes out): peak RSS %d KiB -> %d KiB (+%d KiB)", n, out, before, after, grew)
	if grew > 16<<10 {
		t.Errorf("peak RSS grew by %d KiB, want < 16 MiB", grew)
	}
}

func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatal("no VmHWM")
	return 0
}
