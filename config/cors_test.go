package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

func TestCORS_ValidCompiles(t *testing.T) {
	snap, _, _, diags := LoadSnapshot("testdata/valid/cors.hcl")
	if diags.HasErrors() || snap == nil {
		t.Fatalf("got %s", diags.Error())
	}
	mustPath := func(s string) policy.Path {
		p, err := policy.ParsePath(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	hr := snap.CORS(mustPath("/hr/employees/7"))
	if hr == nil || hr.Path().String() != "/hr/**" {
		t.Fatalf("rule for /hr/employees/7: got %v, want cors \"/hr/**\"", hr)
	}
	for origin, want := range map[string]bool{
		"https://portal.example.com":     true,
		"https://x.apps.example.com":     true,
		"http://localhost:3000":          true,
		"https://apps.example.com":       false,
		"https://portal.example.com:443": false,
	} {
		if _, ok := hr.AllowOrigin(origin); ok != want {
			t.Errorf("AllowOrigin(%q) = %v, want %v", origin, ok, want)
		}
	}
	if !hr.Credentials() || hr.AllowMethodsHeader() != "GET, PUT" || hr.MaxAgeHeader() != "600" ||
		hr.AllowHeadersHeader() != "Authorization, Content-Type, X-Api-Key" || hr.ExposeHeadersHeader() != "X-Request-Id" {
		t.Errorf("rule values: credentials %v, methods %q, max_age %q, headers %q, exposed %q",
			hr.Credentials(), hr.AllowMethodsHeader(), hr.MaxAgeHeader(), hr.AllowHeadersHeader(), hr.ExposeHeadersHeader())
	}
	if !strings.HasPrefix(hr.Origin(), "cors.hcl:") {
		t.Errorf("Origin = %q, want cors.hcl:line,col", hr.Origin())
	}
	pub := snap.CORS(mustPath("/hr/public/x"))
	if pub == nil || pub.Path().String() != "/hr/public/**" {
		t.Fatalf("rule for /hr/public/x: got %v", pub)
	}
	// Defaults: GET, HEAD, POST; no max_age; no credentials.
	if pub.AllowMethodsHeader() != "GET, HEAD, POST" || pub.MaxAgeHeader() != "" || pub.Credentials() {
		t.Errorf("defaults: methods %q, max_age %q, credentials %v", pub.AllowMethodsHeader(), pub.MaxAgeHeader(), pub.Credentials())
	}
	if r := snap.CORS(mustPath("/hr/admin/users")); r != nil {
		t.Errorf("disabled rule: got %v, want no CORS", r)
	}
}

// TestCORS_DiagnosticsPointAtTheValue checks Subjects and Details of the
// cors diagnostics beyond the line numbers of the error fixture.
func TestCORS_DiagnosticsPointAtTheValue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cors.hcl")
	src := `cors "/a/*/c" {
  origins = ["https://portal.example.com"]
}

cors "/a/b/*" {
  origins     = ["*"]
  credentials = true
}

cors "/x" {
  origins = ["https://portal.example.com/app"]
  max_age = 1.5
}
`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, files, diags := LoadSnapshot(path)
	for _, tc := range []struct {
		summary, subject string
		detail           []string
	}{
		{summaryAmbiguousCORS, `"/a/b/*"`, []string{`"/a/*/c"`, "first declared at " + path + ":1,6", `"/a/b/c"`}},
		{summaryAnyOriginCredentials, `"*"`, []string{"credentials = true", path + ":7,3"}},
		{summaryInvalidOrigin, `"https://portal.example.com/app"`, []string{"a path"}},
		{summaryInvalidMaxAge, `1.5`, []string{"0 to 86400"}},
	} {
		d := findDiag(t, diags, tc.summary)
		if got := subjectText(t, files, d); got != tc.subject {
			t.Errorf("%s: Subject %q, want %q", tc.summary, got, tc.subject)
		}
		for _, want := range tc.detail {
			if !strings.Contains(d.Detail, want) {
				t.Errorf("%s: Detail %q lacks %q", tc.summary, d.Detail, want)
			}
		}
	}
}

// TestCORS_DuplicateAcrossFiles: a cors path declared in two files of a
// directory is reported at the second.
func TestCORS_DuplicateAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	block := "cors \"/hr/**\" {\n  origins = [\"https://portal.example.com\"]\n}\n"
	for _, name := range []string{"a.hcl", "b.hcl"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, _, _, diags := LoadSnapshot(dir)
	d := findDiag(t, diags, summaryDuplicateCORS)
	if d.Subject.Filename != filepath.Join(dir, "b.hcl") || !strings.Contains(d.Detail, filepath.Join(dir, "a.hcl")) {
		t.Errorf("got %s at %s, want it at b.hcl naming a.hcl", d.Detail, d.Subject)
	}
}
