// Package policytest runs the tests of `gatehouse test` (config.Test,
// decoded from *_test.hcl files) against a compiled policy.Snapshot,
// entirely in process: no listener, no upstream, no network.
//
// A test's request goes through what the proxy does before it dials the
// upstream, with the proxy's own parts: proxy.CanonicalTarget (the
// canonicalize stage's refusals and canonical path), Snapshot.Route, the identity the
// authenticate stage would establish for the named credential
// (authn.KeyIdentity for an app's key, Snapshot.UserRole for a user
// session, authn.AdminRefusal for an admin session), Snapshot.Decide, the
// upstream's header templates (policy.HeaderCaller.Resolve), and the deciding
// grant's record filter and field protection (its records.Plan, for a
// write body with CheckWrite and for a given response with Filter). Rate limits, CORS and
// the upstream's own answer are not part of a test: an allowed request is
// answered 200.
package policytest

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/filter"
	"github.com/gatehouse-dev/gatehouse/policy/records"
	"github.com/gatehouse-dev/gatehouse/proxy"
)

// Reasons of refusals made outside policy.Decide, as the proxy logs them
// (proxy/errors.go, proxy/filterrecords.go).
const (
	reasonNoRoute          = "no_route"
	reasonHeaderUnresolved = string(policy.ReasonHeaderUnresolved)
	reasonFilterRefused    = "filter_refused_write"
	reasonFieldRefused     = "field_refused_write"
	reasonFilterBadBody    = "filter_bad_body"
	reasonFilterMediaType  = "filter_unsupported_media_type"
	reasonFilterUpstream   = "filter_unfilterable_response"
	reasonFilterHidden     = "filter_hidden_record"
)

// Outcome is what became of a test's request.
type Outcome struct {
	Status int    // 200 when allowed (the upstream's answer is not known)
	Reason string // the decision's or the refusal's reason
	Grant  *policy.Grant
	// DryRun is what a dry-run grant would have changed (would_allow,
	// would_deny; not enforced), and DryRunGrant that grant; "" and nil
	// when nothing.
	DryRun      string
	DryRunGrant *policy.Grant
	// Headers are the upstream header fields rendered from the upstream's
	// templates, in their order; Secret[i] says that Headers[i] reads a
	// lookup (possibly a secret lookup) and must not be printed.
	Headers [][2]string
	Secret  []bool
	// Records are the indexes of the records kept of the test's response
	// (nil without one); Filtered says a record filter ran.
	Records  []int
	Filtered bool
	Note     string // why records could not be computed, or ""
	// HiddenFields and MaskedFields are the deciding grant's hide_fields
	// and mask_fields paths, the members an allowed request's records
	// lose (nil when none).
	HiddenFields, MaskedFields []string
}

// Allowed reports whether the request would reach the upstream.
func (o Outcome) Allowed() bool { return o.Status == 200 }

// String describes the outcome for failure messages: "403 grant_denied by
// deny orders GET /*/payment (gatehouse.hcl:36,3)".
func (o Outcome) String() string {
	s := strconv.Itoa(o.Status) + " " + o.Reason
	if o.Grant != nil {
		s += " by " + o.Grant.String()
	}
	if o.DryRunGrant != nil {
		s += "; dry run: " + o.DryRun + " by " + o.DryRunGrant.String()
	}
	if o.Allowed() && len(o.HiddenFields) > 0 {
		s += "; hidden fields: " + strings.Join(o.HiddenFields, ", ")
	}
	if o.Allowed() && len(o.MaskedFields) > 0 {
		s += "; masked fields: " + strings.Join(o.MaskedFields, ", ")
	}
	return s
}

// Result is one test's outcome and what differed from its expectations
// (nil when it passed).
type Result struct {
	Test     *config.Test
	Outcome  Outcome
	Failures []string
}

// Passed reports whether every expectation held.
func (r Result) Passed() bool { return len(r.Failures) == 0 }

// Check reports, with positions, what in the tests the snapshot does not
// have: unknown apps, users, admins and login providers, sessions without
// a sessions block. Run assumes tests that passed Check.
func Check(snap *policy.Snapshot, tests []*config.Test) hcl.Diagnostics {
	var diags hcl.Diagnostics
	bad := func(summary, detail string, r *config.TestRequest, attr string) {
		rng := r.Ranges[attr]
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &rng})
	}
	for _, t := range tests {
		r := &t.Request
		if r.App != "" {
			if _, ok := snap.App(r.App); !ok {
				bad("Unknown app", fmt.Sprintf("No app %q in the configuration.", r.App), r, "app")
			}
		}
		if r.Admin != "" {
			if _, ok := snap.Admin(r.Admin); !ok {
				bad("Unknown admin", fmt.Sprintf("No admin %q in the configuration.", r.Admin), r, "admin")
			}
		}
		switch {
		case r.Provider != "":
			_, isLDAP := snap.LDAP(r.Provider)
			_, isOAuth := snap.OAuth(r.Provider)
			switch {
			case !isLDAP && !isOAuth:
				bad("Unknown provider", fmt.Sprintf("No ldap or oauth block %q in the configuration.", r.Provider), r, "provider")
			case isOAuth && r.LDAPGroups != nil:
				bad("Unknown provider", fmt.Sprintf("%q is an oauth block: ldap_groups are for ldap providers.", r.Provider), r, "ldap_groups")
			case r.App == "":
				bad("Missing required argument", "A session is sent with the API key of the app it was issued for: add app.", r, "provider")
			}
			if o, ok := snap.OAuth(r.Provider); ok && o.MappedOnly() {
				if _, ok := snap.User(r.User); !ok {
					bad("Unknown user", fmt.Sprintf("%q is an oauth block whose logins are mapped local users' sessions: user must name a local user.", r.Provider), r, "provider")
				}
			}
			if isLDAP || isOAuth {
				captures := snap.CapturedLookups(r.Provider)
				for _, n := range slices.Sorted(maps.Keys(r.Lookups)) {
					if !slices.Contains(captures, n) {
						bad("Unknown lookup", fmt.Sprintf("The lookups of %s %q do not declare %q: a login through it never captures that lookup.", providerKind(isLDAP), r.Provider, n), r, "lookups")
					}
				}
			}
		case r.User != "":
			if _, ok := snap.User(r.User); !ok {
				bad("Unknown user", fmt.Sprintf("No user %q in the configuration (for a directory or OAuth user, add provider).", r.User), r, "user")
			}
		}
	}
	config.SortDiagnostics(diags)
	return diags
}

func providerKind(isLDAP bool) string {
	if isLDAP {
		return "ldap"
	}
	return "oauth"
}

// caller is the test's credential as the authenticate stage would see it:
// the caller proxy.ExplainCaller builds, and its session's directory
// groups.
type caller struct {
	policy.Caller
	groups []string
}

// Run runs one test.
func Run(snap *policy.Snapshot, t *config.Test) Result {
	o := run(snap, &t.Request, &t.Expect)
	return Result{Test: t, Outcome: o, Failures: compare(o, &t.Expect)}
}

func run(snap *policy.Snapshot, r *config.TestRequest, e *config.TestExpect) Outcome {
	refuse := func(status int, reason string) Outcome { return Outcome{Status: status, Reason: reason} }
	p, perr := proxy.CanonicalTarget(r.Method, r.Target, nil)
	if perr != nil {
		return refuse(perr.Status, perr.Reason)
	}
	_, rawQuery, _ := strings.Cut(r.Target, "?")
	route, routed := snap.Route(p)
	var c caller
	if !routed || !route.Upstream.Public() {
		q := proxy.ExplainQuery{App: r.App, User: r.User, Admin: r.Admin, Provider: r.Provider, LDAPGroups: r.LDAPGroups, Lookups: r.Lookups}
		var refusal *proxy.Error
		var err error
		c.Caller, c.groups, refusal, err = proxy.ExplainCaller(snap, q, time.Now())
		switch {
		case err != nil: // Check reports these with their positions
			return Outcome{Note: err.Error()}
		case refusal != nil:
			return refuse(refusal.Status, refusal.Reason)
		}
	}
	if !routed {
		return refuse(404, reasonNoRoute)
	}
	d := snap.Decide(policy.Request{Method: r.Method, Route: route}, c.ID)
	if !d.Allow {
		return Outcome{Status: d.Status, Reason: string(d.Reason), Grant: d.Grant, DryRun: string(d.DryRun), DryRunGrant: d.DryRunGrant}
	}
	o := Outcome{Status: 200, Reason: string(d.Reason), Grant: d.Grant, DryRun: string(d.DryRun), DryRunGrant: d.DryRunGrant}
	var lookups map[string]any
	if tmpls := route.Upstream.Headers(); len(tmpls) > 0 {
		lookups = snap.LookupsOf(c.Caller)
		hc := policy.HeaderCaller{ID: c.ID, Email: c.Email, Provider: c.Provider, Lookups: lookups}
		for _, t := range tmpls {
			v, ok := t.Render(hc.Resolve)
			if !ok {
				return Outcome{Status: 403, Reason: reasonHeaderUnresolved, Grant: d.Grant}
			}
			o.Headers = append(o.Headers, [2]string{t.Name, v})
			o.Secret = append(o.Secret, len(t.Lookups()) > 0)
		}
	}
	g := d.Grant
	if g != nil && g.Fields() != nil {
		o.HiddenFields, o.MaskedFields = g.Fields().Hidden(), g.Fields().Masked()
	}
	if g == nil || g.Plan() == nil {
		if e.Response != nil {
			o.Note = "no record filter applies: the whole response is passed"
		}
		return o
	}
	if lookups == nil {
		lookups = snap.LookupsOf(c.Caller)
	}
	env := filterEnv(r, route, &c, lookups, rawQuery)
	var ev filter.Evaluator
	ev.Bind(&env)
	prog, plan := g.Program(), g.Plan()
	eval := func(rec map[string]any) (bool, error) {
		if prog == nil { // field protection only: every record is visible
			return true, nil
		}
		return ev.EvalRecord(prog, rec)
	}
	switch r.Method {
	case "POST", "PUT", "PATCH":
		if r.Body != nil {
			if ct, ok := header(r.Headers, "Content-Type"); ok && (!records.UTF8JSONMediaType(ct) || g.Fields() != nil && records.PatchMediaType(ct)) {
				o.Status, o.Reason = 415, reasonFilterMediaType
				return o
			}
			ok, st, err := plan.CheckWrite(bytes.NewReader(r.Body), eval)
			switch {
			case err != nil:
				o.Status, o.Reason = 400, reasonFilterBadBody
				return o
			case st.Protected > 0:
				o.Status, o.Reason = 403, reasonFieldRefused
				return o
			case !ok:
				o.Status, o.Reason = 403, reasonFilterRefused
				return o
			}
		}
	}
	if e.Response == nil {
		return o
	}
	o.Filtered = true
	o.Records = []int{}
	calls := 0
	st, err := plan.Filter(&bytes.Buffer{}, bytes.NewReader(e.Response), func(rec map[string]any) (bool, error) {
		i := calls
		calls++
		keep, err := eval(rec)
		if keep && err == nil {
			o.Records = append(o.Records, i)
		}
		return keep, err
	})
	switch {
	case errors.Is(err, records.ErrRefused):
		o.Status, o.Reason = 404, reasonFilterHidden
	case err != nil:
		o.Status, o.Reason = 502, reasonFilterUpstream
		o.Note = "the response cannot be filtered: " + err.Error()
	case st.Records != calls:
		o.Note = fmt.Sprintf("%d of %d records have fields that cannot be read (removed): record indexes are unknown", st.Records-calls, st.Records)
	}
	return o
}

// filterEnv describes the caller to the record filter, as the proxy's
// filterRecords stage does.
func filterEnv(r *config.TestRequest, route policy.Route, c *caller, lookups map[string]any, rawQuery string) filter.Env {
	env := filter.Env{
		Lookup:  lookups,
		Request: filter.Request{Method: r.Method, Path: route.Rest, Query: map[string]string{}},
	}
	if c.ID.App != nil {
		env.App = c.ID.App.Name()
	}
	if c.ID.Role != nil {
		env.Role = c.ID.Role.Name()
	}
	env.User.Name = c.ID.User
	if c.Provider != "" && !c.ID.Admin {
		env.User.Email, env.User.Groups, env.User.Provider = c.Email, c.groups, c.Provider
	}
	q, _ := url.ParseQuery(rawQuery)
	for k, v := range q {
		if len(v) > 0 {
			env.Request.Query[k] = v[0]
		}
	}
	if env.Request.Path == "" {
		env.Request.Path = "/"
	}
	return env
}

func header(h map[string]string, name string) (string, bool) {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// compare lists what differs from the expectations, one phrase each.
func compare(o Outcome, e *config.TestExpect) []string {
	var out []string
	switch {
	case e.Status != 0 && o.Status != e.Status:
		why := o.Reason
		if o.Grant != nil {
			why += " by " + o.Grant.String()
		}
		out = append(out, fmt.Sprintf("status %d (%s), want %d", o.Status, why, e.Status))
	case e.Decision == "allow" && !o.Allowed():
		out = append(out, fmt.Sprintf("decision deny %s, want allow", paren(o)))
	case e.Decision == "deny" && o.Allowed():
		out = append(out, fmt.Sprintf("decision allow %s, want deny", paren(o)))
	}
	if e.Reason != "" && o.Reason != e.Reason {
		out = append(out, fmt.Sprintf("reason %s, want %s", o.Reason, e.Reason))
	}
	if want := e.DryRun; want != "" && o.DryRun != strings.TrimPrefix(want, "none") {
		got := "no dry-run outcome"
		if o.DryRunGrant != nil {
			got = "dry run " + o.DryRun + " by " + o.DryRunGrant.String()
		}
		out = append(out, fmt.Sprintf("%s, want dry run %s", got, e.DryRun))
	}
	if e.Grant != "" && !sameOrigin(o.Grant, e.Grant) {
		got := "no grant"
		if o.Grant != nil {
			got = "grant " + o.Grant.String()
		}
		out = append(out, fmt.Sprintf("%s, want the grant at %s", got, e.Grant))
	}
	if e.UpstreamHeaders != nil {
		names := make([]string, 0, len(e.UpstreamHeaders))
		for k := range e.UpstreamHeaders {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			want := e.UpstreamHeaders[k]
			i := slices.IndexFunc(o.Headers, func(kv [2]string) bool { return policy.HeaderFold(kv[0], k) })
			switch {
			case i < 0:
				out = append(out, fmt.Sprintf("upstream header %s not sent, want %q", k, want))
			case o.Headers[i][1] != want && o.Secret[i]:
				out = append(out, fmt.Sprintf("upstream header %s has another value (read from a lookup: not shown), want %q", k, want))
			case o.Headers[i][1] != want:
				out = append(out, fmt.Sprintf("upstream header %s: %q, want %q", k, o.Headers[i][1], want))
			}
		}
	}
	for _, f := range []struct {
		what      string
		got, want []string
	}{{"hidden_fields", o.HiddenFields, e.HiddenFields}, {"masked_fields", o.MaskedFields, e.MaskedFields}} {
		if f.want != nil && !slices.Equal(sortedCopy(f.got), sortedCopy(f.want)) {
			out = append(out, fmt.Sprintf("%s [%s], want [%s]", f.what, strings.Join(f.got, ", "), strings.Join(f.want, ", ")))
		}
	}
	if e.HasRecords {
		switch {
		case o.Note != "":
			out = append(out, "records: "+o.Note)
		case !o.Filtered && o.Allowed():
			out = append(out, "records: no response was filtered")
		case !o.Allowed() && o.Status != 404:
			// Refused before the upstream: nothing to filter. Already
			// reported if status or decision was expected.
			if e.Status == 0 && e.Decision == "" {
				out = append(out, fmt.Sprintf("records: the request is refused %s", paren(o)))
			}
		case !slices.Equal(o.Records, e.Records):
			out = append(out, fmt.Sprintf("records kept %v, want %v%s", o.Records, e.Records, grantSuffix(o.Grant)))
		}
	}
	return out
}

func paren(o Outcome) string { return "(" + o.String() + ")" }

func grantSuffix(g *policy.Grant) string {
	if g == nil {
		return ""
	}
	return " (filter of " + g.String() + ")"
}

// sameOrigin reports whether the grant was declared at want: "FILE:LINE"
// or "FILE:LINE,COL", FILE compared by its base name.
func sameOrigin(g *policy.Grant, want string) bool {
	if g == nil {
		return false
	}
	want = filepath.Base(want)
	got := g.Origin()
	return got == want || strings.HasPrefix(got, want+",")
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
