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

// Decision is the outcome of Decide.
type Decision struct {
	Allow  bool
	Status int    // HTTP status to refuse with; 0 when allowed
	Reason Reason // why
	Grant  *Grant // the grant that decided, if any
}

// Request is what Decide needs to know about a request.
type Request struct {
	Method string
	Route  Route
}

// Decide applies the policy: public routes and admins are allowed; otherwise
// the identity's role must be active and hold an allow grant for the
// upstream, the method and the path, and no deny grant for them. Deny beats
// allow; no match is a deny. It does not allocate.
func (s *Snapshot) Decide(req Request, id Identity) Decision {
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
	var allow *Grant
	if deny := ix.root.match(req.Route.Segments, verb, &allow); deny != nil {
		return Decision{Status: 403, Reason: ReasonGrantDenied, Grant: deny}
	}
	if allow == nil {
		return Decision{Status: 403, Reason: ReasonNoMatchingGrant}
	}
	return Decision{Allow: true, Reason: ReasonGrantAllowed, Grant: allow}
}
