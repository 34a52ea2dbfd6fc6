package policy_test

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

const (
	GET     = policy.VerbGET
	HEAD    = policy.VerbHEAD
	POST    = policy.VerbPOST
	DELETE  = policy.VerbDELETE
	allVerb = policy.VerbGET | policy.VerbHEAD | policy.VerbPOST | policy.VerbPUT |
		policy.VerbPATCH | policy.VerbDELETE | policy.VerbOPTIONS
)

// decideCase is one request and the decision it must get. who names the
// identity: a role name (with the app "portal"), "admin" (no role),
// "app_only" (the app, no role) or "anonymous" (the zero Identity).
type decideCase struct {
	name   string
	method string
	path   string // raw request path, routed through the snapshot
	who    string
	allow  bool
	status int
	reason policy.Reason
	origin string // Origin of Decision.Grant; "" = no grant
}

func identity(tb testing.TB, s *policy.Snapshot, who string) policy.Identity {
	tb.Helper()
	switch who {
	case "anonymous":
		return policy.Identity{}
	}
	app, ok := s.App("portal")
	if !ok {
		tb.Fatal(`App("portal"): not found`)
	}
	switch who {
	case "admin":
		return policy.Identity{App: app, User: "root", Admin: true}
	case "app_only":
		return policy.Identity{App: app}
	}
	r, ok := s.Role(who)
	if !ok {
		tb.Fatalf("Role(%q): not found", who)
	}
	return policy.Identity{App: app, User: "alice", Role: r}
}

func decide(tb testing.TB, s *policy.Snapshot, method, raw string, id policy.Identity) policy.Decision {
	tb.Helper()
	r, ok := s.Route(mustPath(tb, raw))
	if !ok {
		tb.Fatalf("Route(%q): no upstream", raw)
	}
	return s.Decide(policy.Request{Method: method, Route: r}, id)
}

func runDecide(t *testing.T, s *policy.Snapshot, cases []decideCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := decide(t, s, tc.method, tc.path, identity(t, s, tc.who))
			if d.Allow != tc.allow || d.Status != tc.status || d.Reason != tc.reason {
				t.Errorf("%s %s as %s: got (allow=%v, %d, %s), want (allow=%v, %d, %s)",
					tc.method, tc.path, tc.who, d.Allow, d.Status, d.Reason, tc.allow, tc.status, tc.reason)
			}
			var got string
			if d.Grant != nil {
				got = d.Grant.Origin()
			}
			if got != tc.origin {
				t.Errorf("%s %s as %s: got grant %q, want %q", tc.method, tc.path, tc.who, got, tc.origin)
			}
		})
	}
}

func allowed(name, method, path, origin string) decideCase {
	return decideCase{name: name, method: method, path: path, who: "reader",
		allow: true, reason: policy.ReasonGrantAllowed, origin: origin}
}

func denied(name, method, path, origin string) decideCase {
	return decideCase{name: name, method: method, path: path, who: "reader",
		status: 403, reason: policy.ReasonGrantDenied, origin: origin}
}

func unmatched(name, method, path string) decideCase {
	return decideCase{name: name, method: method, path: path, who: "reader",
		status: 403, reason: policy.ReasonNoMatchingGrant}
}

func TestDecide_AllowMatches(t *testing.T) {
	s := mustNew(t, hrSpec(t, allowGrant(t, "hr", GET, "roles.hcl:3,3", "/employees", "/employees/*")))
	runDecide(t, s, []decideCase{
		allowed("Literal", "GET", "/hr/employees", "roles.hcl:3,3"),
		allowed("Star", "GET", "/hr/employees/5", "roles.hcl:3,3"),
		allowed("EncodedSegment", "GET", "/hr/employees/%35", "roles.hcl:3,3"),
		allowed("UTF8Segment", "GET", "/hr/employees/caf%c3%a9", "roles.hcl:3,3"),
		unmatched("StarIsOneSegment", "GET", "/hr/employees/5/salary"),
		unmatched("UpstreamRoot", "GET", "/hr"),
	})
}

func TestDecide_DenyBeatsAllow(t *testing.T) {
	s := mustNew(t, hrSpec(t,
		denyGrant(t, "hr", GET, "roles.hcl:9,3", "/employees/*/salary"),
		allowGrant(t, "hr", GET|DELETE, "roles.hcl:3,3", "/employees/**"),
		denyGrant(t, "hr", DELETE, "roles.hcl:12,3", "/employees/**"),
	))
	runDecide(t, s, []decideCase{
		denied("DenyGlob", "GET", "/hr/employees/5/salary", "roles.hcl:9,3"),
		denied("DenyOtherVerb", "DELETE", "/hr/employees/5", "roles.hcl:12,3"),
		denied("DenyDoubleStarZeroSegments", "DELETE", "/hr/employees", "roles.hcl:12,3"),
		allowed("AllowBeside", "GET", "/hr/employees/5", "roles.hcl:3,3"),
		allowed("DenyStarIsOneSegment", "GET", "/hr/employees/salary", "roles.hcl:3,3"),
		allowed("DenyDoesNotCoverDeeper", "GET", "/hr/employees/5/salary/history", "roles.hcl:3,3"),
	})
}

func TestDecide_DenyBeatsAllowWhateverOrder(t *testing.T) {
	deny := func() policy.GrantSpec {
		return denyGrant(t, "hr", GET, "deny", "/employees/**/salary")
	}
	allow := func() policy.GrantSpec {
		return allowGrant(t, "hr", GET, "allow", "/employees/5/salary", "/employees/**")
	}
	cases := []decideCase{
		denied("SpecificAllowGeneralDeny", "GET", "/hr/employees/5/salary", "deny"),
		denied("DeepDeny", "GET", "/hr/employees/5/x/salary", "deny"),
		allowed("Allowed", "GET", "/hr/employees/5", "allow"),
	}
	t.Run("DenyFirst", func(t *testing.T) { runDecide(t, mustNew(t, hrSpec(t, deny(), allow())), cases) })
	t.Run("DenyLast", func(t *testing.T) { runDecide(t, mustNew(t, hrSpec(t, allow(), deny())), cases) })
}

func TestDecide_NoMatchingGrantDenies(t *testing.T) {
	t.Run("GrantsElsewhere", func(t *testing.T) {
		s := mustNew(t, hrSpec(t, allowGrant(t, "hr", GET, "roles.hcl:3,3", "/employees/*")))
		runDecide(t, s, []decideCase{
			unmatched("OtherPath", "GET", "/hr/payroll"),
			unmatched("Prefix", "GET", "/hr/employeesx/5"),
			unmatched("UpstreamRoot", "GET", "/hr/"),
		})
	})
	t.Run("NoGrantsAtAll", func(t *testing.T) {
		runDecide(t, mustNew(t, hrSpec(t)), []decideCase{unmatched("Any", "GET", "/hr/employees")})
	})
}

func TestDecide_VerbsExplicit(t *testing.T) {
	s := mustNew(t, hrSpec(t,
		allowGrant(t, "hr", GET, "get", "/employees/**"),
		allowGrant(t, "hr", GET|HEAD, "get_head", "/reports/**"),
	))
	runDecide(t, s, []decideCase{
		allowed("GET", "GET", "/hr/employees/5", "get"),
		unmatched("GETDoesNotImplyHEAD", "HEAD", "/hr/employees/5"),
		unmatched("POST", "POST", "/hr/employees/5"),
		unmatched("PUT", "PUT", "/hr/employees/5"),
		unmatched("PATCH", "PATCH", "/hr/employees/5"),
		unmatched("DELETE", "DELETE", "/hr/employees/5"),
		unmatched("NothingImpliesOPTIONS", "OPTIONS", "/hr/employees/5"),
		allowed("HEADWhenListed", "HEAD", "/hr/reports/q1", "get_head"),
	})
}

func TestDecide_TrailingSlashDecidedAlike(t *testing.T) {
	s := mustNew(t, hrSpec(t,
		denyGrant(t, "hr", GET, "deny", "/employees/*/salary"),
		allowGrant(t, "hr", GET, "allow", "/employees/**"),
	))
	runDecide(t, s, []decideCase{
		denied("DeniedWithout", "GET", "/hr/employees/5/salary", "deny"),
		denied("DeniedWith", "GET", "/hr/employees/5/salary/", "deny"),
		denied("DeniedWithEncoded", "GET", "/hr/employees/5/%73alary/", "deny"),
		allowed("AllowedWithout", "GET", "/hr/employees/5", "allow"),
		allowed("AllowedWith", "GET", "/hr/employees/5/", "allow"),
	})
}

func TestDecide_RoleInactive(t *testing.T) {
	s := mustNew(t, hrSpec(t, allowGrant(t, "hr", allVerb, "all", "/**")))
	runDecide(t, s, []decideCase{
		{name: "Matching", method: "GET", path: "/hr/employees", who: "suspended", status: 403, reason: policy.ReasonRoleInactive},
		{name: "Root", method: "GET", path: "/hr", who: "suspended", status: 403, reason: policy.ReasonRoleInactive},
		allowed("ActiveRoleSameGrants", "GET", "/hr/employees", "all"),
	})
}

func TestDecide_UpstreamInactive(t *testing.T) {
	s := mustNew(t, hrSpec(t, allowGrant(t, "old", allVerb, "all", "/**")))
	runDecide(t, s, []decideCase{
		{name: "Reader", method: "GET", path: "/old/x", who: "reader", status: 503, reason: policy.ReasonUpstreamInactive},
		{name: "Admin", method: "GET", path: "/old/x", who: "admin", status: 503, reason: policy.ReasonUpstreamInactive},
		{name: "Anonymous", method: "GET", path: "/old", who: "anonymous", status: 503, reason: policy.ReasonUpstreamInactive},
	})
}

func TestDecide_PublicRoute(t *testing.T) {
	s := mustNew(t, hrSpec(t))
	runDecide(t, s, []decideCase{
		{name: "Anonymous", method: "GET", path: "/pub/logo.png", who: "anonymous", allow: true, reason: policy.ReasonPublic},
		{name: "AnonymousPOST", method: "POST", path: "/pub/form", who: "anonymous", allow: true, reason: policy.ReasonPublic},
		{name: "Root", method: "GET", path: "/pub", who: "anonymous", allow: true, reason: policy.ReasonPublic},
		{name: "RoleWithoutGrants", method: "GET", path: "/pub/x", who: "reader", allow: true, reason: policy.ReasonPublic},
	})
}

func TestDecide_Admin(t *testing.T) {
	s := mustNew(t, hrSpec(t, denyGrant(t, "hr", allVerb, "deny_all", "/**")))
	runDecide(t, s, []decideCase{
		{name: "NoGrants", method: "DELETE", path: "/crm/accounts/1", who: "admin", allow: true, reason: policy.ReasonAdmin},
		{name: "BypassesDeny", method: "GET", path: "/hr/employees/5/salary", who: "admin", allow: true, reason: policy.ReasonAdmin},
		denied("ReaderDenied", "GET", "/hr/employees/5/salary", "deny_all"),
	})
}

func TestDecide_NoRole(t *testing.T) {
	s := mustNew(t, hrSpec(t, allowGrant(t, "hr", allVerb, "all", "/**")))
	runDecide(t, s, []decideCase{
		{name: "AppWithoutRole", method: "GET", path: "/hr/employees", who: "app_only", status: 403, reason: policy.ReasonNoRole},
		{name: "Anonymous", method: "GET", path: "/hr/employees", who: "anonymous", status: 403, reason: policy.ReasonNoRole},
	})
}

func TestDecide_MethodNotGrantable(t *testing.T) {
	s := mustNew(t, hrSpec(t, allowGrant(t, "hr", allVerb, "all", "/**")))
	var cases []decideCase
	for _, m := range []struct{ name, method string }{
		{"TRACE", "TRACE"},
		{"CONNECT", "CONNECT"},
		{"LowerCaseGet", "get"},
		{"MixedCaseGet", "Get"},
		{"WebDAV", "PROPFIND"},
		{"Empty", ""},
		{"TrailingSpace", "GET "},
	} {
		cases = append(cases, decideCase{name: m.name, method: m.method, path: "/hr/employees", who: "reader",
			status: 403, reason: policy.ReasonMethodNotGranted})
	}
	runDecide(t, s, cases)
}

func TestDecide_GrantOnOtherUpstreamDoesNotApply(t *testing.T) {
	s := mustNew(t, hrSpec(t,
		allowGrant(t, "crm", allVerb, "crm_all", "/**"),
		denyGrant(t, "crm", GET, "crm_deny", "/employees/**"),
		allowGrant(t, "hr", GET, "hr_employees", "/employees/**"),
	))
	runDecide(t, s, []decideCase{
		unmatched("AllowElsewhere", "GET", "/hr/accounts"),
		allowed("DenyElsewhere", "GET", "/hr/employees/5", "hr_employees"),
		denied("SamePathOnItsUpstream", "GET", "/crm/employees/5", "crm_deny"),
		allowed("AllowOnItsUpstream", "POST", "/crm/accounts", "crm_all"),
	})
}

func TestDecide_ReportsGrant(t *testing.T) {
	spec := hrSpec(t,
		allowGrant(t, "hr", GET, "roles.hcl:3,3", "/employees/**"),
		allowGrant(t, "hr", GET, "roles.hcl:4,3", "/employees/5"),
		allowGrant(t, "hr", GET, "roles.hcl:5,3", "/reports/*", "/reports/*/pdf"),
		denyGrant(t, "hr", GET, "roles.hcl:6,3", "/employees/*/salary"),
	)
	s := mustNew(t, spec)
	runDecide(t, s, []decideCase{
		allowed("FirstDeclaredAllowWinsOverMoreSpecific", "GET", "/hr/employees/5", "roles.hcl:3,3"),
		allowed("SecondPathOfAGrant", "GET", "/hr/reports/q1/pdf", "roles.hcl:5,3"),
		denied("Deny", "GET", "/hr/employees/5/salary", "roles.hcl:6,3"),
	})
	d := decide(t, s, "GET", "/hr/employees/5/salary", identity(t, s, "reader"))
	if d.Grant == nil || !d.Grant.Deny() || d.Grant.Upstream() != "hr" || d.Grant.Verbs() != GET {
		t.Fatalf("deny decision: got grant %v, want the deny grant on hr for GET", d.Grant)
	}
	if got, want := d.Grant.String(), "deny hr GET /employees/*/salary (roles.hcl:6,3)"; got != want {
		t.Errorf("Grant.String(): got %q, want %q", got, want)
	}
}

// TestDecide_IndexAgreesWithGlobMatch checks that a role's compiled grant
// index decides exactly like Glob.Match, the reference matcher.
func TestDecide_IndexAgreesWithGlobMatch(t *testing.T) {
	for _, tc := range globMatchCases {
		t.Run(tc.glob+"_"+tc.path, func(t *testing.T) {
			s := mustNew(t, hrSpec(t, allowGrant(t, "hr", GET, "g", tc.glob)))
			d := decide(t, s, "GET", "/hr"+tc.path, identity(t, s, "reader"))
			if d.Allow != tc.want {
				t.Errorf("grant %q, GET /hr%s: got allow=%v (%s), want %v", tc.glob, tc.path, d.Allow, d.Reason, tc.want)
			}
		})
	}
}

// TestDecide_ZeroAllocs holds Decide to its documented promise: it does not
// allocate, even with 10,000 grants.
func TestDecide_ZeroAllocs(t *testing.T) {
	s := bigSnapshot(t, 10_000)
	for _, tc := range bigCases(10_000) {
		t.Run(tc.name, func(t *testing.T) {
			req, id := bigRequest(t, s, tc.path)
			if d := s.Decide(req, id); d.Allow != tc.allow || d.Reason != tc.reason {
				t.Fatalf("GET %s: got (allow=%v, %s), want (allow=%v, %s)", tc.path, d.Allow, d.Reason, tc.allow, tc.reason)
			}
			if n := testing.AllocsPerRun(1000, func() { s.Decide(req, id) }); n != 0 {
				t.Errorf("GET %s: got %v allocs per Decide, want 0", tc.path, n)
			}
		})
	}
}
