package config

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestTestFiles: Load never reads *_test.hcl; TestFiles lists them for a
// directory and for a file in it.
func TestTestFiles(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"gatehouse.hcl":      "upstream \"a\" {\n  url    = \"http://127.0.0.1:1\"\n  prefix = \"/a\"\n}\n",
		"roles_test.hcl":     "this is { not hcl",
		".hidden_test.hcl":   "",
		"b_test.hcl":         "",
		"notes_test.hcl.txt": "",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, diags := Load(dir); diags.HasErrors() {
		t.Fatalf("Load read a test file: %v", diags)
	}
	want := []string{filepath.Join(dir, "b_test.hcl"), filepath.Join(dir, "roles_test.hcl")}
	for _, p := range []string{dir, filepath.Join(dir, "gatehouse.hcl")} {
		got, diags := TestFiles(p)
		if diags.HasErrors() || !slices.Equal(got, want) {
			t.Errorf("TestFiles(%s) = %v, %v; want %v", p, got, diags, want)
		}
	}
}

// TestLoadTests_Diagnostics: every mistake, with its position.
func TestLoadTests_Diagnostics(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x_test.hcl")
	src := `test "a" {
  request {
    method = "get"
    target = "nope"
    colour = "red"
  }
  expect {}
}

test "a" {
  request {
    method = "GET"
    target = "/"
    ldap_groups = ["g"]
  }
  expect {
    decision = "maybe"
    grant    = "roles.hcl"
    records  = [0]
  }
}

test "b" {
  request {
    app     = "portal"
    method  = "GET"
    target  = "/"
    lookups = { dept = "7" }
  }
  expect {
    status = 200
  }
}
`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, diags := LoadTests([]string{path})
	var got []string
	for _, d := range diags {
		got = append(got, d.Subject.Filename[len(dir)+1:]+":"+itoa(d.Subject.Start.Line)+":"+itoa(d.Subject.Start.Column)+": "+d.Summary)
	}
	want := []string{
		"x_test.hcl:3:14: Invalid method",
		"x_test.hcl:4:14: Invalid target",
		"x_test.hcl:5:5: Unsupported argument",
		"x_test.hcl:7:3: Invalid expectation",
		"x_test.hcl:10:6: Duplicate test",
		"x_test.hcl:14:19: Missing required argument",
		"x_test.hcl:17:16: Invalid expectation",
		"x_test.hcl:18:16: Invalid expectation",
		"x_test.hcl:19:16: Missing required argument",
		"x_test.hcl:28:15: Missing required argument",
	}
	if !slices.Equal(got, want) {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestDocs_TestExampleLoads decodes the test example of
// docs/policy-testing.md, so that the page cannot drift from the decoder.
func TestDocs_TestExampleLoads(t *testing.T) {
	doc, err := os.ReadFile("../docs/policy-testing.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```hcl\n(.*?)```").FindAllSubmatch(doc, -1)
	if len(blocks) == 0 {
		t.Fatal("no hcl example in docs/policy-testing.md")
	}
	dir := t.TempDir()
	for i, b := range blocks {
		if !strings.Contains(string(b[1]), "test \"") {
			continue
		}
		path := filepath.Join(dir, "doc"+itoa(i)+"_test.hcl")
		if err := os.WriteFile(path, b[1], 0o600); err != nil {
			t.Fatal(err)
		}
		if tests, _, diags := LoadTests([]string{path}); diags.HasErrors() || len(tests) == 0 {
			t.Errorf("example %d: %d tests, %v", i, len(tests), diags)
		}
	}
}
