package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/hashicorp/hcl/v2"

	"github.com/gatehouse-dev/gatehouse/config"
)

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "gatehouse.hcl", "config file or directory of .hcl files")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	snap, files, diags := config.LoadSnapshot(*path)
	if diags.HasErrors() {
		printDiagnostics(stderr, files, diags)
		return 1
	}
	if len(diags) > 0 {
		printDiagnostics(stderr, files, diags)
	}
	fmt.Fprintf(stdout, "%s: valid (%d upstreams)\n", *path, len(snap.Upstreams()))
	return 0
}

// printDiagnostics writes diagnostics with file:line:col and a source
// snippet, followed by a count.
func printDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics) {
	wr := hcl.NewDiagnosticTextWriter(w, files, 100, false)
	_ = wr.WriteDiagnostics(diags)
	n := len(diags.Errs())
	if n > 0 {
		fmt.Fprintf(w, "%d error(s)\n", n)
	}
}
