package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// `gatehouse validate` accepts cookie_secure = false but warns about it
// with the position of the value (issue 18, point 7).
func TestValidate_InsecureCookieWarns(t *testing.T) {
	dir := t.TempDir()
	cfg := fmt.Sprintf(e2eConfig, "http://127.0.0.1:9", hashKey("k")) +
		"\nsessions {\n  signing_key   = \"validate-test-signing-key-0123456789abcdef\"\n  cookie_secure = false\n}\n"
	writeFile(t, filepath.Join(dir, "dev.hcl"), cfg)
	line := strings.Count(cfg[:strings.Index(cfg, "cookie_secure")], "\n") + 1
	code, stdout, stderr := runCmd(t, dir, "validate", "--config", "dev.hcl")
	want := fmt.Sprintf("dev.hcl:%d:19: warning: Insecure session cookie", line)
	if code != 0 || !strings.Contains(stdout, "valid") || !strings.Contains(stderr, want) || strings.Contains(stderr, "error") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 0 and %q", code, stdout, stderr, want)
	}
}
