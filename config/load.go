package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/settings"
)

// Load reads one .hcl file, or every *.hcl file directly inside a directory
// (sorted by name; names starting with "." or ending in "_test.hcl", the
// tests of `gatehouse test` (LoadTests), and subdirectories are ignored),
// then parses, decodes and merges them.
//
// It stops after syntax errors, before evaluating any env() or file() call,
// and reports only the first syntax error of each file: its cause (a
// missing quote is one "Unterminated string" at the opening quote, not an
// error on every later line). Diagnostics are sorted by file, line, column.
// Otherwise it reports every decoding and duplicate error at once. The
// returned Config is never nil: Files is usable to print the diagnostics
// with source snippets even on failure. When diags has errors the Config is
// incomplete and Compile refuses it.
func Load(path string) (*Config, hcl.Diagnostics) {
	return load(path, chunkBytes)
}

// load is Load, cutting files larger than pieceSize into pieces.
func load(path string, pieceSize int) (*Config, hcl.Diagnostics) {
	c := &Config{files: make(map[string]*hcl.File)}
	names, diags := configFiles(path)
	if diags.HasErrors() {
		c.loadErrs = true
		c.Server = defaultServer()
		return c, diags
	}
	h := sha256.New()
	parsed := make([]string, 0, len(names)) // names of the parsed files
	var srcs [][]byte
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  summaryCannotRead,
				Detail:   fmt.Sprintf("Cannot read %s: %v.", name, unwrapPathError(err)),
			})
			continue
		}
		// name, NUL, length, NUL, content: unambiguous for any file set.
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(name), len(src))
		h.Write(src)
		parsed = append(parsed, name)
		srcs = append(srcs, src)
	}
	c.hash = hex.EncodeToString(h.Sum(nil))
	// Parse in parallel: the files, and large files in pieces (parsing is
	// most of a reload's work). Diagnostics keep file order.
	var jobs []piece
	first := make([]int, len(srcs)+1) // file i's pieces are jobs[first[i]:first[i+1]]
	for i, src := range srcs {
		jobs = append(jobs, pieces(i, src, pieceSize)...)
		first[i+1] = len(jobs)
	}
	pfiles := make([]*hcl.File, len(jobs))
	pdiags := make([]hcl.Diagnostics, len(jobs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for j, p := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			pfiles[j], pdiags[j] = hclsyntax.ParseConfig(srcs[p.file][p.start:p.end], parsed[p.file], p.pos)
		})
	}
	wg.Wait()
	parts := make([][]*hcl.File, len(parsed))
	for i, name := range parsed {
		lo, hi := first[i], first[i+1]
		pf, d, ok := joinPieces(name, srcs[i], jobs[lo:hi], pfiles[lo:hi], pdiags[lo:hi])
		if !ok { // the whole file's own diagnostics
			var f *hcl.File
			f, d = hclsyntax.ParseConfig(srcs[i], name, hcl.InitialPos)
			pf = parsedFile{file: f, parts: []*hcl.File{f}}
		}
		diags = append(diags, syntaxCause(name, srcs[i], d)...)
		c.files[name] = pf.file
		parts[i] = pf.parts
	}
	defer func() {
		// Callers print diagnostics with snippets of these files: never
		// with a secret written into them.
		for name, f := range c.files {
			c.files[name] = redacted(f)
		}
	}()
	if diags.HasErrors() {
		c.loadErrs = true
		c.Server = defaultServer()
		SortDiagnostics(diags)
		return c, diags // syntax errors: evaluate nothing
	}
	c.decoded = true
	// Decode the pieces in parallel too, then join each file's pieces in
	// order: merge sees one File per file, as if it was decoded whole.
	var all []*hcl.File
	var owner []int
	for i, ps := range parts {
		all = append(all, ps...)
		for range ps {
			owner = append(owner, i)
		}
	}
	dparts := make([]*File, len(all))
	ddiags := make([]hcl.Diagnostics, len(all))
	fc := &filterCache{}
	for j, f := range all {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			dparts[j], ddiags[j] = decodeFile(parsed[owner[j]], f, fc)
		})
	}
	wg.Wait()
	decoded := make([]*File, len(parsed))
	for j, f := range dparts {
		diags = append(diags, ddiags[j]...)
		if d := decoded[owner[j]]; d != nil {
			d.appendFile(f)
		} else {
			decoded[owner[j]] = f
		}
	}
	diags = append(diags, c.merge(decoded)...)
	c.loadErrs = diags.HasErrors()
	SortDiagnostics(diags)
	return c, diags
}

// configFiles lists the files Load reads for path.
func configFiles(path string) ([]string, hcl.Diagnostics) {
	cannot := func(err error) ([]string, hcl.Diagnostics) {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  summaryCannotRead,
			Detail:   fmt.Sprintf("Cannot read configuration %s: %v. Give a .hcl file or a directory of them.", path, unwrapPathError(err)),
		}}
	}
	st, err := os.Stat(path)
	if err != nil {
		return cannot(err)
	}
	if !st.IsDir() {
		if !st.Mode().IsRegular() {
			return cannot(fmt.Errorf("not a regular file"))
		}
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path) // sorted by name
	if err != nil {
		return cannot(err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".hcl") || IsTestFile(n) {
			continue
		}
		full := filepath.Join(path, n)
		// Stat follows symlinks, as used by Kubernetes ConfigMap volumes.
		if fst, err := os.Stat(full); err != nil || !fst.Mode().IsRegular() {
			continue
		}
		names = append(names, full)
	}
	if len(names) == 0 {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  summaryNoFiles,
			Detail:   fmt.Sprintf("Directory %s contains no *.hcl files. Add one, or give the path of a file.", path),
		}}
	}
	return names, nil
}

// LoadSnapshot loads path and compiles it: the policy snapshot and the
// runtime settings beside it. The files map is returned even on failure so
// that the caller can print diagnostics with snippets. The snapshot and the
// settings are nil exactly when diags has errors; all load and reference
// errors are reported together.
func LoadSnapshot(path string) (*policy.Snapshot, *settings.Runtime, map[string]*hcl.File, hcl.Diagnostics) {
	c, diags := Load(path)
	if !c.decoded {
		return nil, nil, c.files, diags
	}
	diags = append(diags, c.checkReferences()...)
	if diags.HasErrors() {
		SortDiagnostics(diags)
		return nil, nil, c.files, diags
	}
	snap, rt, d := c.build()
	diags = append(diags, d...)
	SortDiagnostics(diags)
	return snap, rt, c.files, diags
}
