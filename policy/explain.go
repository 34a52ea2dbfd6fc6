package policy

import (
	"sort"
	"strconv"
	"strings"
)

func itoa(i int) string { return strconv.Itoa(i) }

// allVerbs is every grantable verb: a walk with it as mask visits every
// grant the path matches.
const allVerbs = VerbGET | VerbHEAD | VerbPOST | VerbPUT | VerbPATCH | VerbDELETE | VerbOPTIONS

// trace records, for Explain, every grant a walk of the grant index saw,
// once each, in walk order.
type trace struct {
	seen []*Grant
}

func (t *trace) saw(g *Grant) {
	for _, s := range t.seen {
		if s == g {
			return
		}
	}
	t.seen = append(t.seen, g)
}

// Grant outcomes in an Explanation: why a grant whose path matched did or
// did not decide. Stable values (JSON output).
const (
	OutcomeDecided        = "decided"            // the deciding grant
	OutcomeVerbNotGranted = "verb_not_granted"   // path matched, the method's verb is not among its verbs
	OutcomeOverriddenDeny = "overridden_by_deny" // an allow naming the verb, beaten by the deciding deny
	OutcomeEarlierDecided = "earlier_grant_decided"
	OutcomeNotEvaluated   = "not_evaluated" // the decision came before the grants (see Explanation.Reason)
	// ReasonHeaderUnresolved is the proxy's refusal of an allowed request
	// whose upstream header template has no value for the caller.
	ReasonHeaderUnresolved = "header_unresolved"
	secretPlaceholder      = "(secret)"
	explainDecisionAllow   = "allow"
	explainDecisionRefused = "deny"
)

// Caller is who Explain explains a request for: the identity Decide reads
// and the session facts upstream header templates read.
type Caller struct {
	ID       Identity
	Email    string // the session's e-mail address ({user.email})
	Provider string // the session's provider ({user.provider})
	// Local: ID.User is a local user, whose lookups apply (not a
	// directory user's name, which may be a local user's too).
	Local bool
	// Captured are the lookups the session's login provider captured
	// (session.Session.Lookups); see CallerLookups.
	Captured map[string]string
}

// Explanation is what Explain found out about a request. Its JSON form
// (snake_case, no nulls) is the output of `gatehouse explain --json` and
// POST /admin/explain.
type Explanation struct {
	Method        string `json:"method"`
	Path          string `json:"path"` // canonical
	Routed        bool   `json:"routed"`
	Upstream      string `json:"upstream,omitempty"`
	UpstreamURL   string `json:"upstream_url,omitempty"`
	ForwardedPath string `json:"forwarded_path,omitempty"`

	App   string `json:"app,omitempty"`
	Key   string `json:"key,omitempty"`
	User  string `json:"user,omitempty"`
	Admin bool   `json:"admin,omitempty"`
	Role  string `json:"role,omitempty"`

	Decision   string `json:"decision"` // "allow" or "deny"
	Status     int    `json:"status,omitempty"`
	Reason     string `json:"reason"`
	Grant      string `json:"grant,omitempty"`       // the deciding grant's file:line
	NearGrant  string `json:"near_grant,omitempty"`  // Decision.NearMiss's file:line
	NearReason string `json:"near_reason,omitempty"` // Decision.NearReason
	// DryRun and DryRunGrant: what a dry-run grant would have changed
	// (would_allow, would_deny; not enforced) and its file:line.
	DryRun      string `json:"dry_run,omitempty"`
	DryRunGrant string `json:"dry_run_grant,omitempty"`

	// Grants lists every grant of the role for the upstream whose path
	// matched, in the order the decision walked them.
	Grants       []ExplainedGrant     `json:"grants"`
	RecordFilter *ExplainedFilter     `json:"record_filter,omitempty"`
	Lookups      []ExplainedLookup    `json:"lookups"`
	RateLimits   []ExplainedRateLimit `json:"rate_limits"`
	CORS         *ExplainedCORS       `json:"cors,omitempty"`
	Headers      []ExplainedHeader    `json:"upstream_headers"`

	// HiddenFields and MaskedFields are the deciding grant's hide_fields
	// and mask_fields paths: the members the caller's records would lose
	// (removed or replaced by the mask), and that a write body may not set.
	HiddenFields []string `json:"hidden_fields,omitempty"`
	MaskedFields []string `json:"masked_fields,omitempty"`

	// Decided is the decision itself, for callers in Go.
	Decided Decision `json:"-"`
}

// ExplainedGrant is one grant whose path matched.
type ExplainedGrant struct {
	Origin   string   `json:"origin"` // file:line,column
	Kind     string   `json:"kind"`   // "allow" or "deny"
	Upstream string   `json:"upstream"`
	Verbs    string   `json:"verbs"`
	Paths    []string `json:"paths"`
	Outcome  string   `json:"outcome"` // Outcome* or, for not_evaluated, see Explanation.Reason
}

// ExplainedFilter is the record filter of the deciding grant.
type ExplainedFilter struct {
	Grant   string `json:"grant"`
	Records string `json:"records"`
	Filter  string `json:"filter"`
}

// ExplainedLookup is one lookup that applies to the caller.
type ExplainedLookup struct {
	Name   string `json:"name"`
	Value  string `json:"value"` // "(secret)" for a secret lookup
	Secret bool   `json:"secret,omitempty"`
	Scope  string `json:"scope"` // system, app, role, provider (captured at login) or user
}

// ExplainedRateLimit is one rate limit the request would spend from.
type ExplainedRateLimit struct {
	Kind     string `json:"kind"`
	Requests int    `json:"requests"`
	Period   string `json:"period"`
	Burst    int    `json:"burst"`
	Policy   string `json:"policy"`
	Origin   string `json:"origin,omitempty"`
}

// ExplainedCORS is the cors rule for the path.
type ExplainedCORS struct {
	Path        string `json:"path"`
	Origin      string `json:"origin,omitempty"`
	Enabled     bool   `json:"enabled"`
	Credentials bool   `json:"credentials,omitempty"`
	Methods     string `json:"allow_methods,omitempty"`
	Headers     string `json:"allow_headers,omitempty"`
}

// ExplainedHeader is one header the upstream would get from its header
// templates; secret lookups are blanked.
type ExplainedHeader struct {
	Name       string `json:"name"`
	Value      string `json:"value"`
	Unresolved bool   `json:"unresolved,omitempty"` // the proxy would refuse: 403 header_unresolved
}

// Explain reports what the proxy would do with a request for the
// canonical path p: the route, the decision (made by the same code as
// Decide, recording every grant the path matched), the record filter, the
// lookups, the rate limits, the cors rule and the upstream headers. It is
// for people and tools, not the request path: it allocates.
func (s *Snapshot) Explain(method string, p Path, c Caller) Explanation {
	id := c.ID
	e := Explanation{Method: method, Path: p.Escaped, Grants: []ExplainedGrant{}, Lookups: []ExplainedLookup{},
		RateLimits: []ExplainedRateLimit{}, Headers: []ExplainedHeader{}, User: id.User, Admin: id.Admin}
	if id.App != nil {
		e.App = id.App.name
	}
	if id.Key != nil {
		e.Key = id.Key.Name()
	}
	if id.Role != nil {
		e.Role = id.Role.name
	}
	if r := s.CORS(p); r != nil {
		e.CORS = &ExplainedCORS{Path: r.path.String(), Origin: r.origin, Enabled: r.enabled, Credentials: r.credentials,
			Methods: r.allowMethods, Headers: r.allowHeaders}
	}
	rt, ok := s.Route(p)
	if !ok {
		e.Decision, e.Status, e.Reason = explainDecisionRefused, 404, "no_route"
		return e
	}
	// As proxy/forward.go builds it: the upstream URL's escaped path, the
	// rest of the canonical path, byte for byte.
	e.Routed, e.Upstream = true, rt.Upstream.name
	if e.ForwardedPath = strings.TrimSuffix(rt.Upstream.url.EscapedPath(), "/") + rt.Rest; e.ForwardedPath == "" {
		e.ForwardedPath = "/"
	}
	e.UpstreamURL = rt.Upstream.url.String()
	var t trace
	d := s.decide(Request{Method: method, Route: rt}, id, &t)
	if len(t.seen) == 0 && id.Role != nil && rt.Upstream.id < len(id.Role.index) && id.Role.index[rt.Upstream.id] != nil {
		// Decided before the grants: list them all the same, by the
		// same walk with no verb.
		w := walk{mask: allVerbs, full: true, trace: &t}
		id.Role.index[rt.Upstream.id].root.match(rt.Segments, &w)
	}
	e.Decided = d
	e.Decision, e.Status, e.Reason = explainDecisionAllow, d.Status, string(d.Reason)
	if !d.Allow {
		e.Decision = explainDecisionRefused
	}
	if d.Grant != nil {
		e.Grant = d.Grant.origin
	}
	if d.NearMiss != nil {
		e.NearGrant, e.NearReason = d.NearMiss.origin, string(d.NearReason)
	}
	if d.DryRunGrant != nil {
		e.DryRun, e.DryRunGrant = string(d.DryRun), d.DryRunGrant.origin
	}
	verb, _ := ParseVerb(method)
	walked := d.Reason == ReasonGrantAllowed || d.Reason == ReasonGrantDenied || d.Reason == ReasonNoMatchingGrant
	for _, g := range t.seen {
		eg := ExplainedGrant{Origin: g.origin, Kind: explainDecisionAllow, Upstream: g.upstream, Verbs: g.verbs.String()}
		if g.deny {
			eg.Kind = "deny"
		}
		for _, gl := range g.paths {
			eg.Paths = append(eg.Paths, gl.String())
		}
		switch {
		case !walked:
			eg.Outcome = OutcomeNotEvaluated
		case g == d.Grant:
			eg.Outcome = OutcomeDecided
		case g.verbs&verb == 0:
			eg.Outcome = OutcomeVerbNotGranted
		case !g.deny && d.Reason == ReasonGrantDenied:
			eg.Outcome = OutcomeOverriddenDeny
		default:
			eg.Outcome = OutcomeEarlierDecided
		}
		e.Grants = append(e.Grants, eg)
	}
	if d.Allow && d.Grant != nil && d.Grant.program != nil {
		e.RecordFilter = &ExplainedFilter{Grant: d.Grant.origin, Records: d.Grant.records, Filter: d.Grant.filter}
	}
	if d.Allow && d.Grant != nil && d.Grant.fields != nil {
		e.HiddenFields, e.MaskedFields = d.Grant.fields.Hidden(), d.Grant.fields.Masked()
	}
	if d.Allow {
		for _, l := range s.RateLimits(nil, id, d) {
			e.RateLimits = append(e.RateLimits, ExplainedRateLimit{Kind: l.kind, Requests: l.requests, Period: l.period.String(),
				Burst: l.burst, Policy: l.policy, Origin: l.origin})
		}
	}
	merged, secret := s.explainLookups(id.App, id.Role, s.lookupsUser(c), s.capturedScope(c.Provider, c.Captured), &e)
	if d.Allow {
		hc := HeaderCaller{ID: id, Email: c.Email, Provider: c.Provider, Lookups: merged}
		blank := hc
		blank.Lookups = make(map[string]any, len(merged))
		for k, v := range merged {
			if secret[k] {
				v = secretPlaceholder
			}
			blank.Lookups[k] = v
		}
		for _, ht := range rt.Upstream.headers {
			_, ok := ht.Render(hc.Resolve)
			v, _ := ht.Render(blank.Resolve)
			e.Headers = append(e.Headers, ExplainedHeader{Name: ht.Name, Value: v, Unresolved: !ok})
			if !ok && e.Decision == explainDecisionAllow {
				// The proxy refuses after the decision (proxy/headers.go).
				e.Decision, e.Status, e.Reason = explainDecisionRefused, 403, ReasonHeaderUnresolved
			}
		}
	}
	return e
}

// explainLookups merges the caller's lookups as CallerLookups does (user >
// captured > role > app > system) and lists them in e, secret values
// blanked; it returns the merged values and the names of the secret ones.
func (s *Snapshot) explainLookups(app *App, role *Role, user *User, captured *scope, e *Explanation) (map[string]any, map[string]bool) {
	type scoped struct {
		name string
		sc   *scope
	}
	scopes := []scoped{{"system", &s.system}}
	if app != nil {
		scopes = append(scopes, scoped{"app", &app.scope})
	}
	if role != nil {
		scopes = append(scopes, scoped{"role", &role.scope})
	}
	if captured != nil {
		scopes = append(scopes, scoped{"provider", captured})
	}
	if user != nil {
		scopes = append(scopes, scoped{"user", &user.scope})
	}
	merged := map[string]any{}
	secret := map[string]bool{}
	from := map[string]string{}
	for _, sc := range scopes {
		for k, v := range sc.sc.values {
			merged[k], secret[k], from[k] = v, sc.sc.secret[k], sc.name
		}
	}
	names := make([]string, 0, len(merged))
	for k := range merged {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		l := ExplainedLookup{Name: k, Value: LookupString(merged[k]), Secret: secret[k], Scope: from[k]}
		if l.Secret {
			l.Value = secretPlaceholder
		}
		e.Lookups = append(e.Lookups, l)
	}
	return merged, secret
}

// String renders e for a person at a terminal.
func (e *Explanation) String() string {
	var b strings.Builder
	line := func(k, v string) {
		if v != "" {
			b.WriteString(k)
			b.WriteString(strings.Repeat(" ", max(1, 16-len(k))))
			b.WriteString(v)
			b.WriteByte('\n')
		}
	}
	line("request:", e.Method+" "+e.Path)
	if !e.Routed && e.Reason != "no_route" {
		line("decision:", e.Decision+" "+itoa(e.Status)+" ("+e.Reason+"), before any grant is consulted")
		return b.String()
	}
	if e.Routed {
		line("route:", "upstream "+e.Upstream+" ("+e.UpstreamURL+"), forwarded path "+e.ForwardedPath)
	} else {
		line("route:", "no upstream claims this path")
	}
	who := []string{}
	if e.App != "" {
		who = append(who, "app "+e.App)
	}
	if e.Key != "" {
		who = append(who, "key "+e.Key)
	}
	if e.Admin {
		who = append(who, "admin "+e.User)
	} else if e.User != "" {
		who = append(who, "user "+e.User)
	}
	if e.Role != "" {
		who = append(who, "role "+e.Role)
	} else {
		who = append(who, "no role")
	}
	line("identity:", strings.Join(who, ", "))
	dec := e.Decision + " (" + e.Reason + ")"
	if e.Status != 0 {
		dec = e.Decision + " " + itoa(e.Status) + " (" + e.Reason + ")"
	}
	if e.Grant != "" {
		dec += " by grant at " + e.Grant
	}
	line("decision:", dec)
	if e.NearGrant != "" {
		line("near miss:", e.NearReason+": grant at "+e.NearGrant)
	}
	if e.DryRun != "" {
		line("dry run:", e.DryRun+": dry-run grant at "+e.DryRunGrant+" (not enforced)")
	}
	if len(e.Grants) == 0 {
		line("grants:", "none of the role's grants matches this path")
	} else {
		b.WriteString("grants:\n")
		for _, g := range e.Grants {
			b.WriteString("  " + g.Origin + "  " + g.Kind + " " + g.Upstream + " " + g.Verbs + " " + strings.Join(g.Paths, " ") + "  -> " + g.Outcome + "\n")
		}
	}
	if f := e.RecordFilter; f != nil {
		line("record filter:", "records "+f.Records+" where "+f.Filter)
	}
	if len(e.HiddenFields) > 0 {
		line("hidden fields:", strings.Join(e.HiddenFields, ", "))
	}
	if len(e.MaskedFields) > 0 {
		line("masked fields:", strings.Join(e.MaskedFields, ", "))
	}
	if len(e.Lookups) > 0 {
		b.WriteString("lookups:\n")
		for _, l := range e.Lookups {
			b.WriteString("  " + l.Name + " = " + l.Value + "  (" + l.Scope + ")\n")
		}
	}
	if len(e.RateLimits) > 0 {
		b.WriteString("rate limits:\n")
		for _, l := range e.RateLimits {
			b.WriteString("  " + l.Kind + ": " + itoa(l.Requests) + " per " + l.Period + ", burst " + itoa(l.Burst))
			if l.Origin != "" {
				b.WriteString(" (" + l.Origin + ")")
			}
			b.WriteByte('\n')
		}
	}
	if c := e.CORS; c != nil {
		v := "path " + c.Path
		if !c.Enabled {
			v += ", disabled"
		}
		if c.Origin != "" {
			v += " (" + c.Origin + ")"
		}
		line("cors:", v)
	}
	if len(e.Headers) > 0 {
		b.WriteString("upstream headers:\n")
		for _, h := range e.Headers {
			b.WriteString("  " + h.Name + ": " + h.Value)
			if h.Unresolved {
				b.WriteString("  (unresolved: the proxy refuses with 403 header_unresolved)")
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// RefusedExplanation is the explanation of a request refused before any
// decision (a bad target, a missing or no longer valid credential): the
// proxy's status and reason, nothing else.
func RefusedExplanation(method, path string, status int, reason string) Explanation {
	return Explanation{Method: method, Path: path, Decision: explainDecisionRefused, Status: status, Reason: reason,
		Grants: []ExplainedGrant{}, Lookups: []ExplainedLookup{}, RateLimits: []ExplainedRateLimit{}, Headers: []ExplainedHeader{}}
}
