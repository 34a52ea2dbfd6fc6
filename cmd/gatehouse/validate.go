package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/settings"
	"github.com/gatehouse-dev/gatehouse/store/redisstore"
	"github.com/redis/go-redis/v9"
)

var validateHelp = commandHelp{
	synopsis: "gatehouse validate [--config PATH] [--check-cluster]",
	about: `Loads and compiles the configuration at PATH (a .hcl file or a directory of
them) as run would, without serving. Every problem is printed as
file:line:col: error: Summary, with the source line and how to fix it.
Exit status: 0 valid, 1 errors, 2 bad usage.`,
	examples: `  gatehouse validate --config gatehouse.hcl
  gatehouse validate --config /etc/gatehouse/conf.d --check-cluster   # also PING the cluster's Redis`,
}

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	path := fs.String("config", "gatehouse.hcl", "config file or directory of .hcl files")
	checkCluster := fs.Bool("check-cluster", false, "also connect to the cluster block's Redis and PING it (without this flag validate never uses the network)")
	if code, ok := parseFlags(fs, args, validateHelp, stdout, stderr); !ok {
		return code
	}
	snap, rt, files, diags := config.LoadSnapshot(*path)
	if diags.HasErrors() {
		printDiagnostics(stderr, files, diags)
		return 1
	}
	if len(diags) > 0 {
		printDiagnostics(stderr, files, diags)
	}
	fmt.Fprintf(stdout, "%s: valid (%s)\n", *path, plural(len(snap.Upstreams()), "upstream", "upstreams"))
	if *checkCluster {
		return pingCluster(rt.Cluster, stdout, stderr)
	}
	return 0
}

// pingCluster connects to the Redis of a cluster block and PINGs it,
// within the block's dial and read timeouts: "cluster: ok (…)" and 0, or
// the error (which names the server, never a password) and 1.
func pingCluster(cfg *settings.Cluster, stdout, stderr io.Writer) int {
	if cfg == nil {
		fmt.Fprintln(stdout, "cluster: no cluster block, nothing to check")
		return 0
	}
	redis.SetLogger(redisstore.Logger{}) // the error below says it all
	c, err := redisstore.Open(context.Background(), cfg, nil)
	if err != nil {
		fmt.Fprintf(stderr, "cluster: %v\n", err)
		return 1
	}
	defer c.Close()
	fmt.Fprintf(stdout, "cluster: ok (redis %s, prefix %s)\n", c.Server(), c.Prefix())
	return 0
}

// printDiagnostics writes each diagnostic as "file:line:col: error: Summary"
// (the form editors and CI annotate) followed by hcl's source snippet and
// detail, sorted by file, line and column, then a count.
func printDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics) {
	diags = slices.Clone(diags)
	config.SortDiagnostics(diags)
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		if d.Subject != nil {
			fmt.Fprintf(w, "%s:%d:%d: %s: %s\n", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, sev, d.Summary)
		} else {
			fmt.Fprintf(w, "%s: %s\n", sev, d.Summary)
		}
		var b bytes.Buffer
		wrb := hcl.NewDiagnosticTextWriter(&b, files, 100, false)
		_ = wrb.WriteDiagnostic(d)
		// Drop hcl's own "Error: Summary" line: the line above says it.
		text := b.String()
		if i := strings.IndexByte(text, '\n'); i >= 0 && strings.HasSuffix(text[:i], d.Summary) {
			text = text[i+1:]
		}
		fmt.Fprint(w, text)
	}
	if n := len(diags.Errs()); n > 0 {
		fmt.Fprintln(w, plural(n, "error", "errors"))
	}
}
