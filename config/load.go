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
)

// Load reads one .hcl file, or every *.hcl file directly inside a directory
// (sorted by name; names starting with "." and subdirectories are ignored),
// then parses, decodes and merges them.
//
// It stops after syntax errors, before evaluating any env() or file() call.
// Otherwise it reports every decoding and duplicate error at once. The
// returned Config is never nil: Files is usable to print the diagnostics
// with source snippets even on failure. When diags has errors the Config is
// incomplete and Compile refuses it.
func Load(path string) (*Config, hcl.Diagnostics) {
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
	// Parse the files in parallel (parsing is most of a reload's work);
	// diagnostics keep file order.
	files := make([]*hcl.File, len(parsed))
	fdiags := make([]hcl.Diagnostics, len(parsed))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i := range parsed {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			files[i], fdiags[i] = hclsyntax.ParseConfig(srcs[i], parsed[i], hcl.InitialPos)
		})
	}
	wg.Wait()
	for i, name := range parsed {
		diags = append(diags, fdiags[i]...)
		c.files[name] = files[i]
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
		return c, diags // syntax errors: evaluate nothing
	}
	c.decoded = true
	// Decode in parallel too; merge keeps file order.
	decoded := make([]*File, len(parsed))
	ddiags := make([]hcl.Diagnostics, len(parsed))
	fc := &filterCache{}
	for i, name := range parsed {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			decoded[i], ddiags[i] = decodeFile(name, c.files[name], fc)
		})
	}
	wg.Wait()
	for _, d := range ddiags {
		diags = append(diags, d...)
	}
	diags = append(diags, c.merge(decoded)...)
	c.loadErrs = diags.HasErrors()
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
		if strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".hcl") {
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

// LoadSnapshot loads path and compiles it. The files map is returned even
// on failure so that the caller can print diagnostics with snippets. The
// snapshot is nil exactly when diags has errors; all load and reference
// errors are reported together.
func LoadSnapshot(path string) (*policy.Snapshot, map[string]*hcl.File, hcl.Diagnostics) {
	c, diags := Load(path)
	if !c.decoded {
		return nil, c.files, diags
	}
	diags = append(diags, c.checkReferences()...)
	if diags.HasErrors() {
		return nil, c.files, diags
	}
	snap, d := c.build()
	return snap, c.files, append(diags, d...)
}
