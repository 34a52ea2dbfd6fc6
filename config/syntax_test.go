package config

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// A missing closing quote is one error, at the string's opening quote,
// not an error on every later line.
func TestLoad_SyntaxMissingQuoteOneError(t *testing.T) {
	setTestEnv(t)
	_, _, files, diags := LoadSnapshot("testdata/errors/missing_quote.hcl")
	if len(diags) != 1 {
		t.Fatalf("got %d diagnostics, want 1:\n%s", len(diags), diags.Error())
	}
	d := diags[0]
	if d.Severity != hcl.DiagError || d.Summary != summaryUnterminatedString {
		t.Fatalf("got %s, want the error %q", d, summaryUnterminatedString)
	}
	if d.Subject == nil || d.Subject.Start.Line != 5 || d.Subject.Start.Column != 12 {
		t.Fatalf("subject %v, want the opening quote at line 5, column 12", d.Subject)
	}
	if got := subjectText(t, files, d); got[0] != '"' || got[1:] != "127.0.0.1:8080 # ERROR: Unterminated string" {
		t.Errorf("subject text %q, want the string from its opening quote to the end of the line", got)
	}
}

// Each file with syntax errors reports its first; the other files of a
// directory still report theirs; the result is sorted by file and line.
func TestLoad_SyntaxOnePerFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a.hcl", "upstream \"hr\" {\n  url = \"http://127.0.0.1:1\n  prefix = \"/hr\"\n}\nupstream \"x\" {\n  url = \"http://127.0.0.1:2\"\n}\n")
	write("b.hcl", "role \"r\" {\n  allow \"hr\" {\n    paths = [\"/x\"]\n")
	_, _, _, diags := LoadSnapshot(dir)
	if len(diags) != 2 {
		t.Fatalf("got %d diagnostics, want 2:\n%s", len(diags), diags.Error())
	}
	if d := diags[0]; d.Summary != summaryUnterminatedString || filepath.Base(d.Subject.Filename) != "a.hcl" || d.Subject.Start.Line != 2 || d.Subject.Start.Column != 9 {
		t.Errorf("first: %s, want %q at a.hcl:2,9", d, summaryUnterminatedString)
	}
	if d := diags[1]; filepath.Base(d.Subject.Filename) != "b.hcl" || d.Summary != "Unclosed configuration block" {
		t.Errorf("second: %s, want b.hcl's unclosed block", d)
	}
}

// Diagnostics of several files and phases (decoding, references) come out
// sorted by file, line and column.
func TestLoad_DiagnosticsSorted(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// a.hcl: a reference error (found late) before a decoding error.
	write("a.hcl", `role "reader" {
  allow "payroll" {
    paths = ["/x"]
  }
}

upstream "hr" {
  url    = "http://127.0.0.1:9001"
  prefix = "/hr"
  colour = "blue"
}
`)
	// b.hcl: decoding errors, found before a.hcl's reference error.
	write("b.hcl", `upstream "crm" {
  url    = "ftp://127.0.0.1"
  prefix = "/crm"
  shade  = 1
}
`)
	_, _, _, diags := LoadSnapshot(dir)
	if len(diags) < 4 {
		t.Fatalf("got %d diagnostics, want at least 4:\n%s", len(diags), diags.Error())
	}
	type at struct {
		file      string
		line, col int
	}
	var got []at
	for _, d := range diags {
		if d.Subject == nil {
			t.Fatalf("%s has no subject", d)
		}
		got = append(got, at{filepath.Base(d.Subject.Filename), d.Subject.Start.Line, d.Subject.Start.Column})
	}
	sorted := slices.IsSortedFunc(got, func(a, b at) int {
		if a.file != b.file {
			if a.file < b.file {
				return -1
			}
			return 1
		}
		if a.line != b.line {
			return a.line - b.line
		}
		return a.col - b.col
	})
	if !sorted || got[0].file != "a.hcl" || got[0].line != 2 {
		t.Errorf("not sorted by file, line, column (want a.hcl:2 first): %v\n%s", got, diags.Error())
	}
}

func TestSortDiagnostics_Stable(t *testing.T) {
	r := func(f string, l, c int) *hcl.Range {
		return &hcl.Range{Filename: f, Start: hcl.Pos{Line: l, Column: c}}
	}
	diags := hcl.Diagnostics{
		{Summary: "b2", Subject: r("b", 2, 1)},
		{Summary: "a3-first", Subject: r("a", 3, 5)},
		{Summary: "none"},
		{Summary: "a3-second", Subject: r("a", 3, 5)},
		{Summary: "a1", Subject: r("a", 1, 9)},
		{Summary: "a3-col1", Subject: r("a", 3, 1)},
	}
	SortDiagnostics(diags)
	var got []string
	for _, d := range diags {
		got = append(got, d.Summary)
	}
	want := []string{"none", "a1", "a3-col1", "a3-first", "a3-second", "b2"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
