package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/gatehouse-dev/gatehouse/config"
)

var fmtHelp = commandHelp{
	synopsis: "gatehouse fmt [-check] [PATH…]",
	about:    `Rewrites .hcl files (PATH: files or directories, default ".") in canonical format.`,
	examples: `  gatehouse fmt                          # every .hcl file under the current directory
  gatehouse fmt -check /etc/gatehouse    # in CI: list unformatted files, exit 1 if any`,
}

func cmdFmt(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("fmt", flag.ContinueOnError)
	check := fset.Bool("check", false, "do not write; list files that are not formatted and exit 1 if any")
	if code, ok := parseFlags(fset, args, fmtHelp, stdout, stderr); !ok {
		return code
	}
	paths := fset.Args()
	if len(paths) == 0 {
		paths = []string{"."}
	}
	files, err := hclFiles(paths)
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse fmt: %v\n", err)
		return 1
	}
	rc := 0
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintf(stderr, "gatehouse fmt: %v\n", err)
			rc = 1
			continue
		}
		out, diags := config.Format(name, src)
		if diags.HasErrors() {
			printDiagnostics(stderr, map[string]*hcl.File{name: config.PrintableSource(name, src)}, diags)
			rc = 1
			continue
		}
		if bytes.Equal(src, out) {
			continue
		}
		fmt.Fprintln(stdout, name)
		if *check {
			rc = 1
			continue
		}
		if err := writeFileKeepMode(name, out); err != nil {
			fmt.Fprintf(stderr, "gatehouse fmt: %v\n", err)
			rc = 1
		}
	}
	return rc
}

// hclFiles expands directories (recursively) to the .hcl files in them.
func hclFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if d.IsDir() && path != p && strings.HasPrefix(name, ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(name, ".hcl") && !strings.HasPrefix(name, ".") {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// writeFileKeepMode replaces a file atomically (temp file + rename), keeping
// its permissions, so a watcher never sees a half-written config.
func writeFileKeepMode(name string, data []byte) error {
	st, err := os.Stat(name)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
