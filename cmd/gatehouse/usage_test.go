package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every command's -h and --help print usage with examples and exit 0; a
// bad flag still exits 2.
func TestHelp_EveryCommandExitsZeroWithExamples(t *testing.T) {
	for _, cmd := range []string{"run", "validate", "explain", "fmt", "test", "keygen", "hash-password", "demo", "healthcheck"} {
		for _, flag := range []string{"-h", "--help", "-help"} {
			t.Run(cmd+flag, func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				code := dispatch([]string{cmd, flag}, &stdout, &stderr)
				out := stdout.String() + stderr.String()
				if code != 0 {
					t.Errorf("exit %d, want 0:\n%s", code, out)
				}
				for _, want := range []string{"Usage: gatehouse " + cmd, "Example", "  gatehouse " + cmd} {
					if !strings.Contains(out, want) {
						t.Errorf("help lacks %q:\n%s", want, out)
					}
				}
			})
		}
		t.Run(cmd+"-bad-flag", func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := dispatch([]string{cmd, "--no-such-flag"}, &stdout, &stderr); code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(stderr.String(), "no-such-flag") || !strings.Contains(stderr.String(), "Usage") {
				t.Errorf("stderr lacks the error and the usage:\n%s", stderr.String())
			}
		})
	}
	for _, flag := range []string{"-h", "--help", "help"} {
		var stdout, stderr bytes.Buffer
		if code := dispatch([]string{flag}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "Examples:") {
			t.Errorf("gatehouse %s: exit %d, stdout:\n%s", flag, code, stdout.String())
		}
	}
}

func TestKeygen_JSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"keygen", "--json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var got map[string]string
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout.String())
	}
	if len(got) != 2 || !regexp.MustCompile(`^gh_[A-Za-z0-9_-]{43}$`).MatchString(got["key"]) {
		t.Fatalf("want exactly key and api_key_sha256, got %v", got)
	}
	if hashKey(got["key"]) != got["api_key_sha256"] {
		t.Errorf("api_key_sha256 %s is not sha256 of the key", got["api_key_sha256"])
	}
}

func TestHashPassword_WarnsWhenShort(t *testing.T) {
	for _, c := range []struct {
		pw   string
		warn bool
	}{
		{"short", true},
		{"elevenchars", true},
		{"héllo wörld", true}, // 11 characters, 13 bytes
		{"twelve chars", false},
		{"a much longer passphrase", false},
	} {
		t.Run(c.pw, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := cmdHashPassword([]string{"-memory", "1024", "-time", "1", "-threads", "1"}, strings.NewReader(c.pw+"\n"), &stdout, &stderr)
			if code != 0 || !strings.HasPrefix(stdout.String(), `password_hash = "$argon2id$`) {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
			}
			warned := strings.Contains(stderr.String(), "warning") && strings.Contains(stderr.String(), "at least 12")
			if warned != c.warn {
				t.Errorf("warned %v, want %v: stderr %q", warned, c.warn, stderr.String())
			}
			if strings.Contains(stderr.String(), c.pw) {
				t.Errorf("the warning echoes the password: %q", stderr.String())
			}
		})
	}
}

// validate counts in the singular for one ("1 upstream", "1 error").
func TestValidate_Pluralization(t *testing.T) {
	dir := t.TempDir()
	one := filepath.Join(dir, "one.hcl")
	writeFile(t, one, "upstream \"hr\" {\n  url    = \"http://127.0.0.1:9\"\n  prefix = \"/hr\"\n}\n")
	two := filepath.Join(dir, "two.hcl")
	writeFile(t, two, "upstream \"hr\" {\n  url    = \"http://127.0.0.1:9\"\n  prefix = \"/hr\"\n}\nupstream \"crm\" {\n  url    = \"http://127.0.0.1:9\"\n  prefix = \"/crm\"\n}\n")
	bad1 := filepath.Join(dir, "bad1.hcl")
	writeFile(t, bad1, "upstream \"hr\" {\n  url    = \"http://127.0.0.1:9\"\n  prefix = \"/hr\"\n  colour = \"blue\"\n}\n")
	bad2 := filepath.Join(dir, "bad2.hcl")
	writeFile(t, bad2, "upstream \"hr\" {\n  url    = \"http://127.0.0.1:9\"\n  prefix = \"/hr\"\n  colour = \"blue\"\n  shade = 1\n}\n")
	for _, c := range []struct {
		path, stdout, stderr string
		code                 int
	}{
		{one, "valid (1 upstream)\n", "", 0},
		{two, "valid (2 upstreams)\n", "", 0},
		{bad1, "", "\n1 error\n", 1},
		{bad2, "", "\n2 errors\n", 1},
	} {
		var stdout, stderr bytes.Buffer
		code := dispatch([]string{"validate", "--config", c.path}, &stdout, &stderr)
		if code != c.code || !strings.HasSuffix(stdout.String(), c.stdout) || !strings.HasSuffix(stderr.String(), c.stderr) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d, stdout ending %q, stderr ending %q",
				filepath.Base(c.path), code, stdout.String(), stderr.String(), c.code, c.stdout, c.stderr)
		}
	}
}

// One missing quote is one error, at the opening quote, as validate prints it.
func TestValidate_MissingQuoteOneSyntaxError(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := dispatch([]string{"validate", "--config", "../../config/testdata/errors/missing_quote.hcl"}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	out := stderr.String()
	heads := regexp.MustCompile(`(?m)^\S+:\d+:\d+: error: .*$`).FindAllString(out, -1)
	want := fmt.Sprintf("%s:5:12: error: Unterminated string", "../../config/testdata/errors/missing_quote.hcl")
	if len(heads) != 1 || heads[0] != want || !strings.HasSuffix(out, "\n1 error\n") {
		t.Errorf("got %q, want only %q and \"1 error\":\n%s", heads, want, out)
	}
}
