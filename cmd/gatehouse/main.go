// Command gatehouse secures existing HTTP APIs from HCL configuration:
// API keys, roles with verb grants on path globs, and a hardened reverse
// proxy in front of the upstreams.
//
// Usage:
//
//	gatehouse run      --config PATH   serve (PATH: a .hcl file or a directory)
//	                   [--log-format json|text]
//	gatehouse validate --config PATH   check a config, print every diagnostic
//	                   [--check-cluster]  and PING the cluster block's Redis
//	gatehouse explain  --config PATH [--app NAME] [--user NAME] METHOD TARGET
//	                                   what the proxy would do with a request, and why
//	gatehouse fmt      [-check] [PATH...]
//	gatehouse test     [--config PATH] [-run REGEX] [-v] [FILE...]  run the *_test.hcl policy tests
//	gatehouse keygen   [--json] [--label NAME] [--not-after TIME]  print a new API key and its hash
//	gatehouse keygen   --admin-token [--json]  print a static admin token and its hash
//	gatehouse hash-password            read a password, print its argon2id hash
//	gatehouse demo                     serve a built-in demo on 127.0.0.1:8080
//	gatehouse healthcheck [--url URL]  exit 0 if the admin /healthz answers 200
//	gatehouse version
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `gatehouse secures HTTP APIs from HCL files.

Usage:
  gatehouse run      --config PATH     serve traffic (PATH: a .hcl file or a directory of them)
                     [--log-format text] key=value logs for a terminal (default json)
  gatehouse validate --config PATH     check a config; print every problem with file:line:col
                     [--check-cluster]   also PING the Redis of the cluster block
  gatehouse explain  --config PATH [--app NAME] [--user NAME | --admin NAME] [--json] METHOD TARGET
                                        say what the proxy would do with a request, and why
  gatehouse fmt      [-check] [PATH…]  rewrite .hcl files in canonical format (-check: only list them)
  gatehouse test     --config PATH     run the policy tests (*_test.hcl) in process; -run REGEX, -v
  gatehouse keygen   [--json] [--label NAME] [--not-after TIME]
                                        print a new random API key, its api_key_sha256 line and api_key block
                     --admin-token      or a static admin token and its admin_token_sha256 line
  gatehouse hash-password              read a password (terminal or stdin), print a password_hash line
  gatehouse demo                       run a built-in demo (example config + demo API) on loopback
  gatehouse healthcheck [--url URL]    exit 0 if /healthz answers 200 (default http://127.0.0.1:9901/healthz)
  gatehouse version                    print the version, VCS revision and Go version

Run "gatehouse COMMAND -h" for the flags and examples of a command.

Examples:
  gatehouse keygen                                  # a key for a new app
  gatehouse validate --config /etc/gatehouse/conf.d
  gatehouse run --config /etc/gatehouse/conf.d
`

func main() {
	tuneMemory(rootFS(), os.LookupEnv)
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

// defaultGOGC is the GC target gatehouse runs with unless $GOGC is set.
// The live heap of a proxy is small (the snapshot, connection pools and
// in-flight requests), so letting it grow 4x before collecting costs a few
// MB and saves CPU on every request: GC was 7.5% of the CPU profile at the
// default of 100 (docs/benchmarks.md). Set GOGC to override. The soft
// memory limit (GOMEMLIMIT, or one derived from the cgroup's) bounds what
// this lets the heap grow to: tuneMemory in memlimit.go.
const defaultGOGC = 400

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(rest, stderr)
	case "validate":
		return cmdValidate(rest, stdout, stderr)
	case "explain":
		return cmdExplain(rest, stdout, stderr)
	case "fmt":
		return cmdFmt(rest, stdout, stderr)
	case "test":
		return cmdTest(rest, stdout, stderr)
	case "keygen":
		return cmdKeygen(rest, stdout, stderr)
	case "hash-password":
		return cmdHashPassword(rest, os.Stdin, stdout, stderr)
	case "demo":
		return cmdDemo(rest, stdout, stderr)
	case "healthcheck":
		return cmdHealthcheck(rest, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "gatehouse: unknown command %q\n\n%s", cmd, usage)
	return 2
}
