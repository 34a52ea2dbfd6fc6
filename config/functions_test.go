package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// loadLookup loads `lookups { v = <expr> }` from a file in dir and returns
// the value of v or the diagnostics.
func loadLookup(t *testing.T, dir, expr string) (any, string) {
	t.Helper()
	path := filepath.Join(dir, "f.hcl")
	if err := os.WriteFile(path, []byte("lookups {\n  v = "+expr+"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	snap, _, _, diags := LoadSnapshot(path)
	if diags.HasErrors() {
		var sums []string
		for _, d := range diags {
			sums = append(sums, d.Summary)
		}
		return nil, strings.Join(sums, ", ")
	}
	v, _ := snap.Lookup("v")
	return v, ""
}

func TestFunctions(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o700)
	os.WriteFile(filepath.Join(dir, "text.txt"), []byte("hello\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "big.txt"), make([]byte, maxFileBytes+1), 0o600)
	os.WriteFile(filepath.Join(dir, "binary.txt"), []byte{0xff, 0xfe}, 0o600)
	t.Setenv("GATEHOUSE_TEST_EMPTY", "")
	t.Setenv("GATEHOUSE_TEST_SET", "value")
	t.Setenv(unsetVar, "")
	os.Unsetenv(unsetVar)

	tests := []struct {
		name, expr string
		want       any
		wantErr    string
	}{
		{"env set", `env("GATEHOUSE_TEST_SET")`, "value", ""},
		{"env empty is not unset", `env("GATEHOUSE_TEST_EMPTY")`, "", ""},
		{"env unset", `env("` + unsetVar + `")`, nil, summaryUnsetEnv},
		{"env empty name", `env("")`, nil, summaryUnsetEnv},
		{"file keeps newline", `file("text.txt")`, "hello\n", ""},
		{"file relative to calling file", `file("sub/../text.txt")`, "hello\n", ""},
		{"file absolute", `file("` + filepath.Join(dir, "text.txt") + `")`, "hello\n", ""},
		{"file missing", `file("nope.txt")`, nil, summaryUnreadableFile},
		{"file directory", `file("sub")`, nil, summaryUnreadableFile},
		{"file too big", `file("big.txt")`, nil, summaryUnreadableFile},
		{"file not utf-8", `file("binary.txt")`, nil, summaryUnreadableFile},
		{"unknown function", `upper("x")`, nil, "Call to unknown function"},
		{"no variables", `var.x`, nil, "Variables not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := loadLookup(t, dir, tt.expr)
			if errs != tt.wantErr {
				t.Fatalf("got errors %q, want %q", errs, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}
