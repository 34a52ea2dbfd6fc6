package main

import (
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policytest"
)

var testHelp = commandHelp{
	synopsis: "gatehouse test [--config PATH] [-run REGEX] [-v] [FILE…]",
	about: `Runs the policy tests of a configuration: the test "name" { request { … }
expect { … } } blocks of the *_test.hcl files in the configuration's
directory (or the FILEs given), in process against the compiled snapshot
and the real record filter: no listener, no upstream, no network. Each
failure is one line, file:line: "name": what differed; then a summary,
N passed, N failed. Exit status: 0 all passed, 1 a test failed or the
configuration or a test file has errors (printed as file:line:col), 2 bad
usage. The test language: docs/policy-testing.md.`,
	examples: `  gatehouse test --config /etc/gatehouse/conf.d            # every conf.d/*_test.hcl
  gatehouse test --config gatehouse.hcl -run 'reader' -v    # the tests whose name matches, each reported
  gatehouse test --config conf.d conf.d/roles_test.hcl      # one test file`,
}

func cmdTest(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	path := fs.String("config", "gatehouse.hcl", "config file or directory of .hcl files")
	runRE := fs.String("run", "", "run only the tests whose name matches this regular expression")
	verbose := fs.Bool("v", false, "print every test's result, not only failures")
	if code, ok := parseFlags(fs, args, testHelp, stdout, stderr); !ok {
		return code
	}
	var match *regexp.Regexp
	if *runRE != "" {
		var err error
		if match, err = regexp.Compile(*runRE); err != nil {
			fmt.Fprintf(stderr, "gatehouse test: -run: %v\n", err)
			return 2
		}
	}
	snap, _, files, diags := config.LoadSnapshot(*path)
	if diags.HasErrors() {
		printDiagnostics(stderr, files, diags)
		return 1
	}
	names := fs.Args()
	if len(names) == 0 {
		var d hcl.Diagnostics
		if names, d = config.TestFiles(*path); d.HasErrors() {
			printDiagnostics(stderr, nil, d)
			return 1
		}
		if len(names) == 0 {
			fmt.Fprintf(stderr, "gatehouse test: no *_test.hcl files next to %s\n", *path)
			return 1
		}
	}
	results, code := runTests(snap, names, match, stderr)
	if code != 0 {
		return code
	}
	return reportTests(results, *verbose, stdout)
}

// runTests loads the test files and runs the tests whose name match
// selects (nil: all). A malformed test file is printed and exit code 1.
func runTests(snap *policy.Snapshot, names []string, match *regexp.Regexp, stderr io.Writer) ([]policytest.Result, int) {
	tests, tfiles, diags := config.LoadTests(names)
	diags = append(diags, policytest.Check(snap, tests)...)
	if diags.HasErrors() {
		printDiagnostics(stderr, tfiles, diags)
		return nil, 1
	}
	results := make([]policytest.Result, 0, len(tests))
	for _, t := range tests {
		if match != nil && !match.MatchString(t.Name) {
			continue
		}
		results = append(results, policytest.Run(snap, t))
	}
	return results, 0
}

// reportTests prints one line per failed test (with -v, per test: "ok"
// and the outcome), then the summary; it returns the exit code.
func reportTests(results []policytest.Result, verbose bool, stdout io.Writer) int {
	failed := 0
	for _, r := range results {
		at := fmt.Sprintf("%s:%d", r.Test.DeclRange.Filename, r.Test.DeclRange.Start.Line)
		switch {
		case !r.Passed():
			failed++
			fmt.Fprintf(stdout, "%s: %q: %s\n", at, r.Test.Name, strings.Join(r.Failures, "; "))
		case verbose:
			fmt.Fprintf(stdout, "%s: %q: ok (%s)\n", at, r.Test.Name, r.Outcome)
		}
	}
	if len(results) == 0 {
		fmt.Fprintln(stdout, "no tests to run")
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", len(results)-failed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}
