package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/proxy"
)

var explainHelp = commandHelp{
	synopsis: "gatehouse explain [--config PATH] [--app NAME] [--user NAME | --admin NAME | --ldap-groups G1,G2 --provider NAME] [--lookup NAME=VALUE ...] [--json] METHOD TARGET",
	about: `Says what the proxy would do with one request, and why, without serving:
the target canonicalized as the proxy does, the route (upstream and forwarded
path), the identity and role, every grant whose path matched with its
file:line and why it did or did not apply, the decision and its reason (and
the grant that came closest when refused), the record filter, lookups, rate
limits, cors rule and the upstream headers (secret lookups blanked). The
decision is made by the proxy's own code. --app is the app whose API key the
request carries; --user a local user's session of that app (or, with
--provider, a directory user's); --admin an admin session; --lookup (repeated)
a lookup the --provider block would capture at login (its lookups).
Exit status: 0 whatever the decision, 1 bad config or unknown names, 2 bad usage.`,
	examples: `  gatehouse explain --config gatehouse.hcl --app portal GET /hr/employees/42
  gatehouse explain --config conf.d --app portal --user ada DELETE /hr/employees/42
  gatehouse explain --config conf.d --app portal --ldap-groups hr-staff,vpn --provider corp GET /hr/employees
  gatehouse explain --config conf.d --app portal --provider corp --lookup department=sales GET /crm/records
  gatehouse explain --config conf.d --admin root --json GET '/crm/accounts?id=7'`,
}

func cmdExplain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	path := fs.String("config", "gatehouse.hcl", "config file or directory of .hcl files")
	var q proxy.ExplainQuery
	fs.StringVar(&q.App, "app", "", "the app whose API key the request carries")
	fs.StringVar(&q.User, "user", "", "a user session of --app: a local user, or with --provider a directory user")
	fs.StringVar(&q.Admin, "admin", "", "an admin session")
	groups := fs.String("ldap-groups", "", "comma-separated directory groups of an LDAP login (with --provider)")
	fs.StringVar(&q.Provider, "provider", "", "the ldap or oauth block the user logged in through")
	fs.Func("lookup", "NAME=VALUE: a lookup the --provider block captures at login (repeatable)", func(s string) error {
		name, value, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return errors.New("want NAME=VALUE")
		}
		if q.Lookups == nil {
			q.Lookups = map[string]string{}
		}
		q.Lookups[name] = value
		return nil
	})
	asJSON := fs.Bool("json", false, "print JSON (snake_case) instead of text")
	// Flags may come before or after METHOD TARGET.
	var pos []string
	for rest := args; ; {
		if code, ok := parseFlags(fs, rest, explainHelp, stdout, stderr); !ok {
			return code
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(pos) != 2 {
		fmt.Fprintf(stderr, "gatehouse explain: want METHOD TARGET, got %d arguments\nUsage: %s\n", len(pos), explainHelp.synopsis)
		return 2
	}
	q.Method, q.Target = pos[0], pos[1]
	if *groups != "" {
		for g := range strings.SplitSeq(*groups, ",") {
			if g = strings.TrimSpace(g); g != "" {
				q.LDAPGroups = append(q.LDAPGroups, g)
			}
		}
		if q.Provider == "" {
			fmt.Fprintln(stderr, "gatehouse explain: --ldap-groups needs --provider (the ldap block)")
			return 2
		}
	}
	if q.Admin != "" && (q.User != "" || len(q.LDAPGroups) > 0) {
		fmt.Fprintln(stderr, "gatehouse explain: --admin excludes --user and --ldap-groups")
		return 2
	}
	if len(q.Lookups) > 0 && q.Provider == "" {
		fmt.Fprintln(stderr, "gatehouse explain: --lookup needs --provider (the ldap or oauth block)")
		return 2
	}
	snap, _, files, diags := config.LoadSnapshot(*path)
	if diags.HasErrors() {
		printDiagnostics(stderr, files, diags)
		return 1
	}
	e, err := proxy.Explain(snap, q, time.Now())
	if err != nil {
		if errors.Is(err, proxy.ErrExplainQuery) {
			fmt.Fprintf(stderr, "gatehouse %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "gatehouse explain: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(e); err != nil {
			fmt.Fprintf(stderr, "gatehouse explain: %v\n", err)
			return 1
		}
		return 0
	}
	fmt.Fprint(stdout, e.String())
	return 0
}
