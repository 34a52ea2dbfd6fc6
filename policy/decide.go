package policy

// Identity is who is making a request, as established by authentication.
// The proxy's authn stage fills it; Decide reads it.
type Identity struct {
	App   *App   // nil when the route is public
	Key   *Key   // the API key the request came with (App's), or nil
	User  string // "" without a user session
	Role  *Role  // the role in effect for this app and user; nil = none
	Admin bool   // admins bypass grants
}

// Reason is a stable, machine-readable decision reason. It appears in access
// logs and metrics; do not rename values.
type Reason string

// Decision reasons.
const (
	ReasonAdmin            Reason = "admin"
	ReasonPublic           Reason = "public_route"
	ReasonGrantAllowed     Reason = "grant_allowed"
	ReasonGrantDenied      Reason = "grant_denied"
	ReasonNoMatchingGrant  Reason = "no_matching_grant"
	ReasonNoRole           Reason = "no_role"
	ReasonRoleInactive     Reason = "role_inactive"
	ReasonUpstreamInactive Reason = "upstream_inactive"
	ReasonMethodNotGranted Reason = "method_not_grantable"
)

// Near-miss reasons: why the grant that came closest to a denied request
// did not allow it. They appear in access logs (near_reason); do not rename
// values.
const (
	// NearVerbNotGranted: an allow grant matched the path, but does not
	// name the request's verb.
	NearVerbNotGranted Reason = "verb_not_granted"
	// NearOverriddenByDeny: an allow grant matched the path and the verb,
	// but a deny grant (Decision.Grant) matched too; deny beats allow.
	NearOverriddenByDeny Reason = "overridden_by_deny"
)

// Decision is the outcome of Decide.
type Decision struct {
	Allow  bool
	Status int    // HTTP status to refuse with; 0 when allowed
	Reason Reason // why
	Grant  *Grant // the grant that decided, if any
	// NearMiss is, on a grant_denied or no_matching_grant refusal, the
	// allow grant that came closest (the first declared, by NearReason's
	// kind), so that "why 403?" can be answered from the access log: an
	// allow grant overridden by the deny in Grant, or else one whose path
	// matched but whose verbs do not include the method's. nil otherwise.
	NearMiss   *Grant
	NearReason Reason // NearVerbNotGranted or NearOverriddenByDeny; "" without NearMiss
	// DryRun says what the role's dry-run grants would have changed had
	// they been enforced: DryRunWouldDeny (the request is allowed, a
	// dry-run grant would refuse it) or DryRunWouldAllow (refused, a
	// dry-run allow grant would allow it); "" when they change nothing.
	// DryRunGrant is the dry-run grant that would have decided.
	DryRun      Reason
	DryRunGrant *Grant
}

// Dry-run outcomes (Decision.DryRun). They appear in access logs (dry_run)
// and metrics; do not rename values.
const (
	DryRunWouldDeny  Reason = "would_deny"
	DryRunWouldAllow Reason = "would_allow"
)

// Request is what Decide needs to know about a request.
type Request struct {
	Method string
	Route  Route
}

// Decide applies the policy: public routes and admins are allowed; otherwise
// the identity's role must be active and hold an allow grant for the
// upstream, the method and the path, and no deny grant for them. Deny beats
// allow; no match is a deny. A refusal by the grants also names the grant
// that came closest (NearMiss). It does not allocate, and an allowed
// request costs one walk of the role's grant index (a refusal by the
// grants, two: the second looks for the near miss).
func (s *Snapshot) Decide(req Request, id Identity) Decision {
	return s.decide(req, id, nil)
}

// decide is the one implementation of the policy, for Decide (t nil) and
// Explain (t records every grant the path matched).
func (s *Snapshot) decide(req Request, id Identity, t *trace) Decision {
	d := s.enforce(req, id, t)
	// Only a decision the grants made has a dry-run outcome: not a public
	// route's, an admin's, or a refusal before the grants.
	if r := id.Role; r != nil && r.shadow != nil &&
		(d.Reason == ReasonGrantAllowed || d.Reason == ReasonGrantDenied || d.Reason == ReasonNoMatchingGrant) {
		d.shadow(req, r)
	}
	return d
}

// shadow notes in d what the role's decision would be with its dry-run
// grants enforced: one fast walk of the index of all its grants.
func (d *Decision) shadow(req Request, r *Role) {
	u := req.Route.Upstream
	verb, ok := ParseVerb(req.Method)
	if !ok || u.id >= len(r.shadow) || r.shadow[u.id] == nil {
		return
	}
	w := walk{verb: verb, mask: verb}
	r.shadow[u.id].root.match(req.Route.Segments, &w)
	// The shadow index holds every enforced grant too: an allowed request
	// finds its allow grant there, a refused one its deny.
	switch {
	case d.Allow && w.deny != nil:
		d.DryRun, d.DryRunGrant = DryRunWouldDeny, w.deny
	case !d.Allow && w.deny == nil && w.allow != nil:
		d.DryRun, d.DryRunGrant = DryRunWouldAllow, w.allow
	}
}

// enforce decides with the enforced grants (not dry-run ones).
func (s *Snapshot) enforce(req Request, id Identity, t *trace) Decision {
	u := req.Route.Upstream
	if !u.active {
		return Decision{Status: 503, Reason: ReasonUpstreamInactive}
	}
	if u.public {
		return Decision{Allow: true, Reason: ReasonPublic}
	}
	if id.Admin {
		return Decision{Allow: true, Reason: ReasonAdmin}
	}
	r := id.Role
	if r == nil {
		return Decision{Status: 403, Reason: ReasonNoRole}
	}
	if !r.active {
		return Decision{Status: 403, Reason: ReasonRoleInactive}
	}
	verb, ok := ParseVerb(req.Method)
	if !ok {
		return Decision{Status: 403, Reason: ReasonMethodNotGranted}
	}
	var ix *grantIndex
	if u.id < len(r.index) {
		ix = r.index[u.id]
	}
	if ix == nil {
		return Decision{Status: 403, Reason: ReasonNoMatchingGrant}
	}
	segs := req.Route.Segments
	if t != nil {
		// Explain: walk every grant the path matches, recording them. A
		// walk with a wider mask and no stop at the first deny finds the
		// same first deny and first-declared allow naming the verb: the
		// fast walk below skips only grants without the verb.
		w := walk{verb: verb, mask: allVerbs, full: true, trace: t}
		ix.root.match(segs, &w)
		return w.decision()
	}
	// The fast walk: prunes subtrees without the verb, stops at the first
	// deny.
	w := walk{verb: verb, mask: verb}
	ix.root.match(segs, &w)
	switch {
	case w.deny != nil:
		// Refused: find the allow grant the deny overrides, if any.
		w.full = true
		ix.root.match(segs, &w)
	case w.allow == nil:
		// Refused: find the first-declared allow grant the path matched,
		// whatever its verbs (none names this one).
		w = walk{verb: verb, mask: allVerbs, allows: true, full: true}
		ix.root.match(segs, &w)
	}
	return w.decision()
}

// decision is the decision for what a walk found.
func (w *walk) decision() Decision {
	switch {
	case w.deny != nil:
		d := Decision{Status: 403, Reason: ReasonGrantDenied, Grant: w.deny}
		if w.allow != nil {
			d.NearMiss, d.NearReason = w.allow, NearOverriddenByDeny
		}
		return d
	case w.allow != nil:
		return Decision{Allow: true, Reason: ReasonGrantAllowed, Grant: w.allow}
	}
	d := Decision{Status: 403, Reason: ReasonNoMatchingGrant}
	if w.near != nil {
		d.NearMiss, d.NearReason = w.near, NearVerbNotGranted
	}
	return d
}
