package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const messy = `server{
listen=":8080"
    production = true
  trusted_proxies=["10.0.0.0/8",
  "192.0.2.7"]
}
upstream   "hr" {
url = "http://127.0.0.1:9002"
      prefix="/hr"   # the HR API
}
`

func TestFormat_Idempotent(t *testing.T) {
	inputs := map[string][]byte{"messy.hcl": []byte(messy)}
	for _, pattern := range []string{"testdata/valid/*.hcl", "testdata/valid-dir/*.hcl", "testdata/errors-dir/*.hcl"} {
		for _, f := range glob(t, pattern) {
			if strings.HasPrefix(filepath.Base(f), ".") {
				continue // deliberately broken; Load ignores it
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			inputs[f] = src
		}
	}
	for name, src := range inputs {
		t.Run(filepath.Base(name), func(t *testing.T) {
			once, diags := Format(name, src)
			if diags.HasErrors() {
				t.Fatalf("Format: %s", diags.Error())
			}
			twice, diags := Format(name, once)
			if diags.HasErrors() {
				t.Fatalf("Format of formatted output: %s", diags.Error())
			}
			if !bytes.Equal(once, twice) {
				t.Errorf("Format is not idempotent:\n--- once\n%s\n--- twice\n%s", once, twice)
			}
		})
	}
}

func TestFormat_Canonical(t *testing.T) {
	got, diags := Format("messy.hcl", []byte(messy))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	want := `server {
  listen     = ":8080"
  production = true
  trusted_proxies = ["10.0.0.0/8",
  "192.0.2.7"]
}
upstream "hr" {
  url    = "http://127.0.0.1:9002"
  prefix = "/hr" # the HR API
}
`
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestFormat_SyntaxError(t *testing.T) {
	out, diags := Format("broken.hcl", []byte("upstream \"hr\" {\n  url = \n}\n"))
	if out != nil {
		t.Errorf("got output %q, want nil", out)
	}
	if !diags.HasErrors() {
		t.Fatal("got no diagnostics, want a syntax error")
	}
	d := diags[0]
	if d.Subject == nil || d.Subject.Filename != "broken.hcl" || d.Subject.Start.Line != 2 {
		t.Errorf("got Subject %v, want broken.hcl line 2", d.Subject)
	}
}

// An app's api_key blocks are formatted like any nested block: aligned
// equals signs inside, two-space indent.
func TestFormat_APIKeyBlock(t *testing.T) {
	src := "app \"portal\" {\napi_key_sha256 = \"" + strings.Repeat("ab", 32) + "\"\n" +
		"api_key \"2026-12\" {\nsha256 = \"" + strings.Repeat("cd", 32) + "\"\n  not_after=\"2027-01-31T00:00:00Z\"\n}\n}\n"
	got, diags := Format("keys.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	want := "app \"portal\" {\n  api_key_sha256 = \"" + strings.Repeat("ab", 32) + "\"\n" +
		"  api_key \"2026-12\" {\n    sha256    = \"" + strings.Repeat("cd", 32) + "\"\n    not_after = \"2027-01-31T00:00:00Z\"\n  }\n}\n"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
