package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// parseInPieces is Load's parse of one file, sequential: the pieces of
// src at size, joined, or ok false when Load would parse it whole.
func parseInPieces(name string, src []byte, size int) (parsedFile, hcl.Diagnostics, bool) {
	ps := pieces(0, src, size)
	files := make([]*hcl.File, len(ps))
	diags := make([]hcl.Diagnostics, len(ps))
	for i, p := range ps {
		files[i], diags[i] = hclsyntax.ParseConfig(src[p.start:p.end], name, p.pos)
	}
	return joinPieces(name, src, ps, files, diags)
}

// dumpBody writes everything decoding reads of a body: blocks with their
// labels and ranges, attributes with their ranges and literal values, and
// the diagnostic context of each.
func dumpBody(w *strings.Builder, b *hclsyntax.Body, nav any, indent string) {
	ctx := func(r hcl.Range) string {
		cs, ok := nav.(interface{ ContextString(int) string })
		if !ok {
			return "?"
		}
		return cs.ContextString(r.Start.Byte)
	}
	names := make([]string, 0, len(b.Attributes))
	for n := range b.Attributes {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		a := b.Attributes[n]
		v, d := a.Expr.Value(nil)
		fmt.Fprintf(w, "%sattr %s %v expr=%v ctx=%q value=%#v diags=%d\n", indent, n, a.SrcRange, a.Expr.Range(), ctx(a.SrcRange), v, len(d))
	}
	for _, blk := range b.Blocks {
		fmt.Fprintf(w, "%sblock %s %q def=%v labels=%v open=%v close=%v ctx=%q\n", indent, blk.Type, blk.Labels, blk.DefRange(), blk.LabelRanges, blk.OpenBraceRange, blk.CloseBraceRange, ctx(blk.DefRange()))
		dumpBody(w, blk.Body, nav, indent+"  ")
	}
	fmt.Fprintf(w, "%send %v %v\n", indent, b.SrcRange, b.EndRange)
}

func dumpFile(f *hcl.File) string {
	var w strings.Builder
	dumpBody(&w, f.Body.(*hclsyntax.Body), f.Nav, "")
	return w.String()
}

// checkPieces is the property every cut must have: when the pieces parse
// without error, they are the whole file.
func checkPieces(t *testing.T, src []byte, size int) (cut bool) {
	t.Helper()
	const name = "f.hcl"
	pf, pdiags, ok := parseInPieces(name, src, size)
	if !ok || len(pf.parts) == 1 {
		return false
	}
	whole, wdiags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if wdiags.HasErrors() {
		t.Fatalf("pieces of %d bytes parsed, the whole file did not: %s\n%q", size, wdiags.Error(), src)
	}
	if got, want := len(pdiags), len(wdiags); got != want {
		t.Errorf("%d warnings from the pieces, %d from the whole file", got, want)
	}
	if got, want := dumpFile(pf.file), dumpFile(whole); got != want {
		t.Fatalf("pieces of %d bytes differ from the whole file:\n--- pieces\n%s\n--- whole\n%s\n--- src\n%q", size, got, want, src)
	}
	if !bytes.Equal(pf.file.Bytes, src) {
		t.Fatal("the joined file's Bytes are not the source")
	}
	return true
}

func TestPieces_EqualWholeFile(t *testing.T) {
	var srcs [][]byte
	for _, pattern := range []string{"testdata/*/*.hcl", "../examples/*/*.hcl"} {
		names, _ := filepath.Glob(pattern)
		for _, n := range names {
			src, err := os.ReadFile(n)
			if err != nil {
				t.Fatal(err)
			}
			srcs = append(srcs, src)
		}
	}
	srcs = append(srcs, []byte(fiveMistakes), []byte(messy))
	cuts := 0
	for _, src := range srcs {
		for _, size := range []int{1, 7, 64, 512} {
			if checkPieces(t, src, size) {
				cuts++
			}
		}
	}
	if cuts < 20 {
		t.Errorf("only %d of the inputs were cut at all; the test checks too little", cuts)
	}
}

// TestPieces_FallBack: cut points inside constructs make the piece before
// them fail, so the file is parsed whole.
func TestPieces_FallBack(t *testing.T) {
	for name, src := range map[string]string{
		"heredoc":       "lookups {\n  x = <<EOT\nrole \"a\" {\n}\nEOT\n}\nrole \"b\" {\n}\n",
		"comment":       "/*\nrole \"a\" {\n}\n*/\nrole \"b\" {\n}\n",
		"unindented":    "role \"a\" {\nallow \"u\" {\n}\n}\n",
		"bracket":       "x = [\nfoo,\n]\nrole \"b\" {\n}\n",
		"interpolation": "x = \"${\nfoo}\"\nrole \"b\" {\n}\n",
		"duplicate":     "x = 1\ny = 2\nx = 3\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, ok := parseInPieces("f.hcl", []byte(src), 1); ok {
				t.Fatalf("%q was joined from pieces; want the whole-file parse", src)
			}
		})
	}
}

// TestCutPoints_InvalidUTF8: hclsyntax's line count can differ from the
// newlines' after invalid UTF-8 (found by FuzzPieces), so such files are
// not cut.
func TestCutPoints_InvalidUTF8(t *testing.T) {
	src := []byte("#00000000000000000\xec0\nA{}\nB{}\n")
	if cuts := cutPoints(src, 1); cuts != nil {
		t.Fatalf("cut at %v", cuts)
	}
	if cuts := cutPoints([]byte("#0\nA{}\nB{}\n"), 1); len(cuts) != 2 {
		t.Fatalf("valid UTF-8 cut at %v, want 2 cuts", cuts)
	}
}

// TestLoad_PiecesDiagnostics: a big file with a mistake in its last role
// gives the same diagnostic, with the same snippet and "in role" context,
// whether it is parsed in pieces or whole.
func TestLoad_PiecesDiagnostics(t *testing.T) {
	dir := writeLargeConfig(t, 1000, 1)
	name := filepath.Join(dir, "roles-099.hcl")
	src, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.LastIndex(src, []byte(`"POST"`))
	src = slices.Concat(src[:i], []byte(`"FETCH"`), src[i+len(`"POST"`):])
	if err := os.WriteFile(name, src, 0o644); err != nil {
		t.Fatal(err)
	}
	text := func(size int) string {
		c, diags := load(dir, size)
		var buf bytes.Buffer
		if err := hcl.NewDiagnosticTextWriter(&buf, c.Files(), 100, false).WriteDiagnostics(diags); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	whole, inPieces := text(1<<30), text(4096)
	if !strings.Contains(whole, `in role "r99"`) || !strings.Contains(whole, `FETCH`) {
		t.Fatalf("diagnostic without context or snippet:\n%s", whole)
	}
	if whole != inPieces {
		t.Fatalf("diagnostics differ:\n--- whole\n%s\n--- in pieces\n%s", whole, inPieces)
	}
}

// TestLoad_PiecesSameSnapshot: a config loaded in pieces compiles to the
// same policy as loaded whole.
func TestLoad_PiecesSameSnapshot(t *testing.T) {
	dir := writeLargeConfig(t, 1000, 1)
	summary := func(size int) string {
		c, diags := load(dir, size)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		var w strings.Builder
		for _, r := range c.Roles {
			fmt.Fprintf(&w, "role %s %v\n", r.Name, r.DeclRange)
			for _, g := range r.Grants {
				fmt.Fprintf(&w, "  %s %v %v %v %q %v\n", g.Upstream, g.Paths, g.Verbs, g.DeclRange, g.Filter, g.FilterRange)
			}
		}
		for _, u := range c.Upstreams {
			fmt.Fprintf(&w, "upstream %s %v\n", u.Name, u.DeclRange)
		}
		return w.String()
	}
	whole, inPieces := summary(1<<30), summary(4096)
	if strings.Count(whole, "\n") < 1100 {
		t.Fatalf("summary too short:\n%s", whole)
	}
	if whole != inPieces {
		t.Fatal("a config loaded in pieces differs from the same config loaded whole")
	}
}

// TestAppendFile_EveryKind fails when File gains a kind of block that
// appendFile does not join.
func TestAppendFile_EveryKind(t *testing.T) {
	one := func() *File {
		f := &File{}
		v := reflect.ValueOf(f).Elem()
		for i := range v.NumField() {
			if fv := v.Field(i); fv.Kind() == reflect.Slice {
				fv.Set(reflect.Append(fv, reflect.New(fv.Type().Elem().Elem())))
			}
		}
		return f
	}
	f := one()
	f.appendFile(one())
	v := reflect.ValueOf(f).Elem()
	for i := range v.NumField() {
		if fv := v.Field(i); fv.Kind() == reflect.Slice && fv.Len() != 2 {
			t.Errorf("appendFile drops File.%s", v.Type().Field(i).Name)
		}
	}
}

// FuzzPieces: for any input and any cut size, pieces that parse without
// error are exactly the whole file.
func FuzzPieces(f *testing.F) {
	for _, pattern := range []string{"testdata/*/*.hcl", "../examples/*/*.hcl"} {
		names, _ := filepath.Glob(pattern)
		for _, n := range names {
			if src, err := os.ReadFile(n); err == nil {
				f.Add(src, uint16(1))
			}
		}
	}
	f.Add([]byte("lookups {\n  x = <<EOT\nrole \"a\" {\n}\nEOT\n}\nrole \"b\" {\n}\n"), uint16(1))
	f.Add([]byte("/*\nrole \"a\" {\n}\n*/\nrole \"b\" {\n}\n"), uint16(2))
	f.Fuzz(func(t *testing.T, src []byte, size uint16) {
		checkPieces(t, src, int(size)+1)
	})
}
