package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestDocs_ExamplesLoad loads every hcl example in docs/config.md on its
// own, so that the reference cannot drift from the decoder. (References
// between examples are not checked: each block is loaded without Compile.)
func TestDocs_ExamplesLoad(t *testing.T) {
	doc, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```hcl\n(.*?)```").FindAllSubmatch(doc, -1)
	if len(blocks) < 6 {
		t.Fatalf("got %d hcl examples in docs/config.md, want at least 6", len(blocks))
	}
	t.Setenv("PORTAL_KEY_SHA256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "banner.txt"), []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The cluster examples read redis-ca.pem and two passwords.
	writeTestPair(t, dir, "redis-ca", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	t.Setenv("GATEHOUSE_REDIS_PASSWORD", "docs-redis-password")
	t.Setenv("GATEHOUSE_SENTINEL_PASSWORD", "docs-sentinel-password")
	// The static tls example reads cert.pem and key.pem.
	writeTestPair(t, dir, "cert", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err := os.Rename(filepath.Join(dir, "cert-key.pem"), filepath.Join(dir, "key.pem")); err != nil {
		t.Fatal(err)
	}
	for i, b := range blocks {
		path := filepath.Join(dir, fmt.Sprintf("example%d.hcl", i))
		if err := os.WriteFile(path, b[1], 0o600); err != nil {
			t.Fatal(err)
		}
		if _, diags := Load(path); len(diags) > 0 {
			t.Errorf("example %d:\n%s\n%s", i, b[1], diags.Error())
		}
		if out, diags := Format(path, b[1]); diags.HasErrors() || string(out) != string(b[1]) {
			t.Errorf("example %d is not in canonical format; gatehouse fmt gives:\n%s", i, out)
		}
	}
}
