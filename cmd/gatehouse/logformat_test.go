package main

import (
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// --log-format text: the process log and the access log are
// slog.TextHandler lines (key=value), none of them JSON.
func TestRun_LogFormatText(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	cfg := filepath.Join(t.TempDir(), "gatehouse.hcl")
	writeFile(t, cfg, fmt.Sprintf(e2eConfig, up.URL, hashKey("k1")))
	p := startBinary(t, "run", "--config", cfg, "--log-format", "text")
	if res, _ := get(t, "http://"+p.public+"/hr/employees", map[string]string{"X-API-Key": "k1"}); res.StatusCode != 200 {
		t.Fatalf("status %d, want 200", res.StatusCode)
	}
	rec := p.waitFor(t, "text access line", func(m map[string]any) bool { return m["msg"] == "request" })
	if rec["status"] != "200" || rec["app"] != "portal" || rec["path"] != "/hr/employees" || rec["request_id"] == "" {
		t.Errorf("access line %q", rec["raw"])
	}
	if err := p.stop(t); err != nil {
		t.Errorf("exit: %v", err)
	}
	for _, l := range p.logs() {
		raw, _ := l["raw"].(string)
		if !strings.HasPrefix(raw, "time=") || !strings.Contains(raw, " level=") {
			t.Errorf("not a text line: %v", l)
		}
	}
}

func TestLogFormat_FlagEnvAndUnknown(t *testing.T) {
	for _, c := range []struct{ env, args, want string }{
		{"", "", "json"},
		{"text", "", "text"},
		{"text", "--log-format json", "json"},
		{"", "--log-format text", "text"},
	} {
		t.Setenv(logFormatEnv, c.env)
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		f := logFormatFlag(fs)
		if err := fs.Parse(strings.Fields(c.args)); err != nil {
			t.Fatal(err)
		}
		if *f != c.want {
			t.Errorf("env %q args %q: %q, want %q", c.env, c.args, *f, c.want)
		}
	}
	var stderr bytes.Buffer
	if code := dispatch([]string{"run", "--log-format", "yaml", "--config", "nonexistent.hcl"}, &stderr, &stderr); code != 2 || !strings.Contains(stderr.String(), `unknown --log-format "yaml"`) {
		t.Errorf("run --log-format yaml: exit %d, %q; want 2 and the reason", code, stderr.String())
	}
}
