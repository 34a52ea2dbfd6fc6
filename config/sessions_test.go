package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// cookie_secure defaults to true; false makes cookies without Secure and
// is reported as a warning at the value (issue 18, point 7).
func TestLoad_CookieSecure(t *testing.T) {
	for _, tc := range []struct {
		name, attr   string
		wantInsecure bool
		wantWarning  bool
	}{
		{"default", "", false, false},
		{"true", "cookie_secure = true", false, false},
		{"false", "cookie_secure = false", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gatehouse.hcl")
			src := "upstream \"api\" {\n  url    = \"http://127.0.0.1:9000\"\n  prefix = \"/\"\n}\n\n" +
				"sessions {\n  signing_key = \"cookie-test-signing-key-0123456789abcdef\"\n  " + tc.attr + "\n}\n"
			if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			snap, _, _, diags := LoadSnapshot(path)
			if diags.HasErrors() || snap == nil {
				t.Fatalf("got errors %v, want a snapshot", diags)
			}
			if got := snap.Sessions().InsecureCookie; got != tc.wantInsecure {
				t.Errorf("InsecureCookie = %v, want %v", got, tc.wantInsecure)
			}
			if !tc.wantWarning {
				if len(diags) != 0 {
					t.Errorf("got diagnostics %v, want none", diags)
				}
				return
			}
			if len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || diags[0].Summary != summaryInsecureCookie {
				t.Fatalf("got %v, want one %q warning", diags, summaryInsecureCookie)
			}
			if s := diags[0].Subject; s == nil || s.Filename != path || s.Start.Line != 8 || s.Start.Column != 19 || diags[0].Context == nil {
				t.Errorf("warning at %v, want %s:8,19 (the value) with the attribute as context", s, path)
			}
		})
	}
}
