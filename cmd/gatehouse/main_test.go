package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/settings"
)

// binPath is the gatehouse binary built once for these tests.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "gatehouse")
	out, err := exec.Command("go", "build", "-race", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runCmd runs the binary to completion and returns exit code and output.
func runCmd(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Dir = dir
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), o.String(), e.String()
	}
	if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return 0, o.String(), e.String()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func hashKey(k string) string {
	s := sha256.Sum256([]byte(k))
	return hex.EncodeToString(s[:])
}

// process is a running gatehouse with its log lines collected.
type process struct {
	cmd         *exec.Cmd
	mu          sync.Mutex
	lines       []map[string]any
	public      string
	admin       string
	tls         string // the TLS listener, with a tls block
	waitErr     chan error
	stdoutLines chan string
}

// startBinary starts the binary and waits until both listeners are logged.
func startBinary(t *testing.T, args ...string) *process {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, waitErr: make(chan error, 1), stdoutLines: make(chan string, 1000)}
	ready := make(chan struct{})
	var once sync.Once
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case p.stdoutLines <- sc.Text():
			default:
			}
		}
	}()
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				m = parseTextLine(sc.Text()) // --log-format text
			}
			p.mu.Lock()
			p.lines = append(p.lines, m)
			if m["msg"] == "listening" {
				switch m["listener"] {
				case "public":
					p.public, _ = m["addr"].(string)
				case "admin":
					p.admin, _ = m["addr"].(string)
				case "tls": // logged before the other two
					p.tls, _ = m["addr"].(string)
				}
				if p.public != "" && p.admin != "" {
					once.Do(func() { close(ready) })
				}
			}
			p.mu.Unlock()
		}
		p.waitErr <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	select {
	case <-ready:
	case err := <-p.waitErr:
		t.Fatalf("gatehouse exited before listening: %v\n%v", err, p.logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("gatehouse did not start listening within 30s\n%v", p.logs())
	}
	p.waitReady(t)
	return p
}

// textPair is one key=value of a slog.TextHandler line; a quoted value
// is a Go string literal.
var textPair = regexp.MustCompile(`(?:^| )([^ =]+)=("(?:[^"\\]|\\.)*"|[^ ]*)`)

// parseTextLine reads a --log-format text line (slog.TextHandler) into a
// map of strings, with the line itself under "raw"; a line that is not
// key=value has "raw" alone.
func parseTextLine(line string) map[string]any {
	m := map[string]any{"raw": line}
	if !strings.HasPrefix(line, "time=") {
		return m
	}
	for _, kv := range textPair.FindAllStringSubmatch(line, -1) {
		v := kv[2]
		if strings.HasPrefix(v, `"`) {
			if u, err := strconv.Unquote(v); err == nil {
				v = u
			}
		}
		m[kv[1]] = v
	}
	return m
}

// startWithConfig writes config to dir/gatehouse.hcl and starts
// "gatehouse run --config" on that file (startBinary: it returns once the
// listeners are logged and /readyz answers 200).
func startWithConfig(t *testing.T, dir, config string) *process {
	t.Helper()
	cfg := filepath.Join(dir, "gatehouse.hcl")
	writeFile(t, cfg, config)
	return startBinary(t, "run", "--config", cfg)
}

func (p *process) logs() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any(nil), p.lines...)
}

// waitFor polls the logs (bounded) until one line satisfies pred.
func (p *process) waitFor(t *testing.T, what string, pred func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range p.logs() {
			if pred(l) {
				return l
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no log line for %s within 20s:\n%v", what, p.logs())
	return nil
}

func (p *process) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get("http://" + p.admin + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("/readyz not 200 within 20s")
}

func (p *process) stop(t *testing.T) error {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.waitErr:
		return err
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Fatal("gatehouse did not exit within 30s of SIGTERM")
		return nil
	}
}

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

const e2eConfig = `
server {
  listen              = "127.0.0.1:0"
  admin_listen        = "127.0.0.1:0"
  production          = true
  max_header_bytes    = 4096
  read_header_timeout = "1s"
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
    paths = ["/employees", "/employees/*"]
    verbs = ["GET"]
  }
  deny "hr" {
    paths = ["/employees/*/salary"]
    verbs = ["GET"]
  }
}
`

func TestRun_EndToEnd(t *testing.T) {
	var mu sync.Mutex
	var got []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.RequestURI+" app="+r.Header.Get("X-Gatehouse-App")+" key="+r.Header.Get("X-Api-Key"))
		mu.Unlock()
		_, _ = io.WriteString(w, "hello from upstream")
	}))
	defer up.Close()
	p := startWithConfig(t, t.TempDir(), fmt.Sprintf(e2eConfig, up.URL, hashKey("k1")))
	base := "http://" + p.public

	res, body := get(t, base+"/hr/employees/%61", map[string]string{"X-API-Key": "k1"})
	if res.StatusCode != 200 || body != "hello from upstream" {
		t.Fatalf("allowed: got %d %q", res.StatusCode, body)
	}
	if res, _ := get(t, base+"/hr/employees/1/salary", map[string]string{"X-API-Key": "k1"}); res.StatusCode != 403 {
		t.Errorf("denied: got %d, want 403", res.StatusCode)
	}
	if res, _ := get(t, base+"/hr/employees", nil); res.StatusCode != 401 {
		t.Errorf("no key: got %d, want 401", res.StatusCode)
	}
	if res, _ := get(t, base+"/healthz", nil); res.StatusCode != 401 {
		t.Errorf("admin path on the public listener: got %d, want 401", res.StatusCode)
	}
	if res, _ := get(t, "http://"+p.admin+"/healthz", nil); res.StatusCode != 200 {
		t.Errorf("admin /healthz: got %d, want 200", res.StatusCode)
	}
	if res, _ := get(t, base+"/hr/employees", map[string]string{"X-API-Key": "k1", "X-Big": strings.Repeat("x", 9000)}); res.StatusCode != 431 {
		t.Errorf("big header: got %d, want 431", res.StatusCode)
	}
	mu.Lock()
	if len(got) != 1 || got[0] != "/employees/a app=portal key=" {
		t.Errorf("upstream saw %q, want exactly [/employees/a app=portal key=]", got)
	}
	mu.Unlock()

	// Both Content-Length and Transfer-Encoding: refused on the wire.
	tc, err := net.Dial("tcp", p.public)
	if err != nil {
		t.Fatal(err)
	}
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(tc, "POST /hr/employees HTTP/1.1\r\nHost: x\r\nX-API-Key: k1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
	resp, _ := io.ReadAll(tc)
	tc.Close()
	if !strings.HasPrefix(string(resp), "HTTP/1.1 400 ") {
		t.Errorf("Content-Length with Transfer-Encoding: got %.40q, want 400", resp)
	}

	// Slowloris: a client that never finishes its headers is cut off by
	// read_header_timeout (1s here), bounded by our own 10s deadline.
	c, err := net.Dial("tcp", p.public)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "GET /hr/employees HTTP/1.1\r\nHost: x\r\n")
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(c)
	c.Close()
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("slow header client was not cut off within 10s")
	}
	if el := time.Since(start); el > 9*time.Second {
		t.Errorf("slow header client held the connection for %v", el)
	}

	// One access record per request, with the fields operators need.
	rec := p.waitFor(t, "access record of the 403", func(m map[string]any) bool {
		return m["msg"] == "request" && m["reason"] == "grant_denied"
	})
	for _, k := range []string{"request_id", "app", "role", "upstream", "status", "duration_ms", "decision"} {
		if _, ok := rec[k]; !ok {
			t.Errorf("access record lacks %q: %v", k, rec)
		}
	}
	if err := p.stop(t); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}

func TestRun_ReloadOnSIGHUPKeepsOldConfigWhenBroken(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer up.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gatehouse.hcl")
	writeFile(t, cfg, fmt.Sprintf(e2eConfig, up.URL, hashKey("k1")))
	p := startBinary(t, "run", "--config", cfg)
	base := "http://" + p.public

	// A broken config is rejected whole; the old one keeps serving.
	writeFile(t, cfg, fmt.Sprintf(e2eConfig, up.URL, hashKey("k1"))+"\nrole \"x\" { allow \"nope\" { paths = [\"/\"], verbs = [\"GET\"] } }\n")
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitFor(t, "rejected reload", func(m map[string]any) bool { return m["msg"] == "reload rejected; old config keeps serving" })
	if res, _ := get(t, base+"/hr/employees", map[string]string{"X-API-Key": "k1"}); res.StatusCode != 200 {
		t.Fatalf("after a rejected reload: got %d, want 200", res.StatusCode)
	}
	// A good config with the key rotated takes effect.
	writeFile(t, cfg, fmt.Sprintf(e2eConfig, up.URL, hashKey("k2")))
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitFor(t, "reload", func(m map[string]any) bool { return m["msg"] == "config reloaded" })
	if res, _ := get(t, base+"/hr/employees", map[string]string{"X-API-Key": "k1"}); res.StatusCode != 401 {
		t.Errorf("old key after rotation: got %d, want 401", res.StatusCode)
	}
	if res, _ := get(t, base+"/hr/employees", map[string]string{"X-API-Key": "k2"}); res.StatusCode != 200 {
		t.Errorf("new key after rotation: got %d, want 200", res.StatusCode)
	}
	if err := p.stop(t); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}

func TestValidate_FiveMistakesFiveDiagnostics(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "bad.hcl"), `
server {
  read_timeout = "ten seconds"
}

upstream "hr" {
  url    = "ftp://example.com"
  prefix = "/hr"
}

app "portal" {
  api_key_sha256 = "`+hashKey("k")+`"
  default_role   = "missing_role"
}

role "reader" {
  allow "nope" {
    paths = ["/a"]
    verbs = ["GET"]
  }
  allow "hr" {
    paths = ["/a"]
    verbs = ["FETCH"]
  }
}
`)
	code, _, stderr := runCmd(t, dir, "validate", "--config", "bad.hcl")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr)
	}
	pos := regexp.MustCompile(`(?m)^bad\.hcl:\d+:\d+: error: .*\n\n\s+on bad\.hcl line \d+`)
	if n := len(pos.FindAllString(stderr, -1)); n != 5 {
		t.Errorf("got %d positioned diagnostics, want 5:\n%s", n, stderr)
	}
	for _, want := range []string{"Invalid duration", "Invalid URL", "Unknown role", "Unknown upstream", "Unknown verb", "5 errors"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("output lacks %q:\n%s", want, stderr)
		}
	}
}

func TestValidate_Valid(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ok.hcl"), fmt.Sprintf(e2eConfig, "http://127.0.0.1:9", hashKey("k")))
	code, stdout, stderr := runCmd(t, dir, "validate", "--config", "ok.hcl")
	if code != 0 || !strings.Contains(stdout, "valid") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestRun_BadConfigExitsWithDiagnostics(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "bad.hcl"), "upstream \"x\" {\n  url = \"http://127.0.0.1:1\"\n  prefix = \"/x\"\n  colour = \"blue\"\n}\n")
	code, _, stderr := runCmd(t, dir, "run", "--config", "bad.hcl")
	if code != 1 || !strings.Contains(stderr, "bad.hcl line 4") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestKeygen_PrintsKeyAndItsHash(t *testing.T) {
	code, stdout, _ := runCmd(t, t.TempDir(), "keygen")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	m := regexp.MustCompile(`(gh_[A-Za-z0-9_-]{43})[\s\S]*api_key_sha256 = "([0-9a-f]{64})"`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("unexpected output:\n%s", stdout)
	}
	if hashKey(m[1]) != m[2] {
		t.Errorf("hash %s is not sha256(%s)", m[2], m[1])
	}
}

func TestFmt_CheckAndWrite(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "a.hcl")
	writeFile(t, f, "upstream \"x\" {\nurl=\"http://127.0.0.1:1\"\n    prefix   = \"/x\"\n}\n")
	if code, stdout, _ := runCmd(t, dir, "fmt", "-check", "."); code != 1 || !strings.Contains(stdout, "a.hcl") {
		t.Fatalf("fmt -check on an unformatted file: exit %d, stdout %q", code, stdout)
	}
	if code, _, stderr := runCmd(t, dir, "fmt", "."); code != 0 {
		t.Fatalf("fmt: exit %d %s", code, stderr)
	}
	if code, stdout, _ := runCmd(t, dir, "fmt", "-check", "."); code != 0 {
		t.Fatalf("fmt -check after fmt: exit %d, stdout %q", code, stdout)
	}
	b, _ := os.ReadFile(f)
	if !strings.Contains(string(b), "  url    = \"http://127.0.0.1:1\"") {
		t.Errorf("not canonical:\n%s", b)
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runCmd(t, t.TempDir(), "version")
	if code != 0 || !strings.HasPrefix(stdout, "gatehouse ") {
		t.Fatalf("exit %d, %q", code, stdout)
	}
}

// TestDemo runs `gatehouse demo` as a newcomer would and replays the three
// curl commands it prints.
func TestDemo(t *testing.T) {
	p := startBinary(t, "demo", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
	var curls []string
	deadline := time.After(20 * time.Second)
	for len(curls) < 4 {
		select {
		case l := <-p.stdoutLines:
			if strings.HasPrefix(l, "curl -i -H 'X-API-Key") || strings.HasPrefix(l, "curl -i http") {
				curls = append(curls, l)
			}
		case <-deadline:
			t.Fatalf("demo printed %d curl commands, want at least 4: %q", len(curls), curls)
		}
	}
	keyRe := regexp.MustCompile(`X-API-Key: ([^']+)'`)
	urlRe := regexp.MustCompile(`(http://\S+)$`)
	want := []int{200, 403, 401, 200}
	for i, c := range curls[:4] {
		hdr := map[string]string{}
		if m := keyRe.FindStringSubmatch(c); m != nil {
			hdr["X-API-Key"] = m[1]
		}
		u := urlRe.FindStringSubmatch(c)
		if u == nil {
			t.Fatalf("no URL in %q", c)
		}
		res, body := get(t, u[1], hdr)
		if res.StatusCode != want[i] {
			t.Errorf("%s: got %d %s, want %d", c, res.StatusCode, body, want[i])
		}
	}
	// The login line: post it as printed, then use the token as printed.
	var login string
	for login == "" {
		select {
		case l := <-p.stdoutLines:
			if strings.HasPrefix(l, "curl -s -H 'X-API-Key") && strings.HasSuffix(l, "/auth/login") {
				login = l
			}
		case <-deadline:
			t.Fatal("demo printed no login command")
		}
	}
	bodyRe := regexp.MustCompile(`-d '([^']+)'`)
	key, body, u := keyRe.FindStringSubmatch(login), bodyRe.FindStringSubmatch(login), urlRe.FindStringSubmatch(login)
	if key == nil || body == nil || u == nil {
		t.Fatalf("cannot parse %q", login)
	}
	req, _ := http.NewRequest("POST", u[1], strings.NewReader(body[1]))
	req.Header.Set("X-API-Key", key[1])
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		SessionToken string `json:"session_token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&tr)
	res.Body.Close()
	if res.StatusCode != 200 || tr.SessionToken == "" {
		t.Fatalf("demo login: %d", res.StatusCode)
	}
	base := strings.TrimSuffix(u[1], "/auth/login")
	if res, body := get(t, base+"/hr/employees/1/salary", map[string]string{"X-API-Key": key[1], "Authorization": "Bearer " + tr.SessionToken}); res.StatusCode != 200 {
		t.Errorf("ada's salary request: %d %s", res.StatusCode, body)
	}
	if err := p.stop(t); err != nil {
		t.Errorf("demo exit: %v", err)
	}
}

// TestDocs_ConfigsAreValid validates the config shown in README.md and the
// examples, so the documentation cannot drift from the language.
func TestDocs_ConfigsAreValid(t *testing.T) {
	t.Setenv("PORTAL_KEY_SHA256", hashKey("readme"))
	t.Setenv("SHOP_KEY_SHA256", hashKey("shop"))
	t.Setenv("ORDERS_API_URL", "http://127.0.0.1:9000")
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```hcl\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no hcl block")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "readme.hcl"), string(m[1]))
	for _, cfg := range []string{filepath.Join(dir, "readme.hcl"), "../../examples/quickstart", "../../examples/cors"} {
		code, stdout, stderr := runCmd(t, ".", "validate", "--config", cfg)
		if code != 0 {
			t.Errorf("%s: exit %d\n%s%s", cfg, code, stdout, stderr)
		}
	}
}

func TestRestartOnly(t *testing.T) {
	a := settings.Listeners{Listen: ":8080", AdminListen: "127.0.0.1:9901", ReadTimeout: time.Minute}
	b := a
	if got := restartOnly(a, b); len(got) != 0 {
		t.Errorf("no change: got %v", got)
	}
	b.Listen, b.ReadTimeout = ":9090", time.Second // production is not a listener setting: it applies on reload
	if got := fmt.Sprint(restartOnly(a, b)); got != "[listen read_timeout]" {
		t.Errorf("got %s, want [listen read_timeout] (production applies on reload)", got)
	}
	c := a
	c.ShutdownDelay = 5 * time.Second
	if got := fmt.Sprint(restartOnly(a, c)); got != "[shutdown_delay]" {
		t.Errorf("got %s, want [shutdown_delay]", got)
	}
}
