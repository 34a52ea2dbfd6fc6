package policy_test

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// Dry-run grants are evaluated, not enforced: the decision is the one the
// enforced grants make, and DryRun says what the dry-run ones would have
// changed.
func TestDecide_DryRun(t *testing.T) {
	dry := func(g policy.GrantSpec) policy.GrantSpec { g.DryRun = true; return g }
	s := mustNew(t, hrSpec(t,
		allowGrant(t, "hr", GET, "roles.hcl:3,3", "/employees/**"),
		dry(denyGrant(t, "hr", GET, "roles.hcl:6,3", "/employees/*/salary")), // a tightening being watched
		dry(allowGrant(t, "hr", POST, "roles.hcl:9,3", "/employees")),        // a loosening being watched
		denyGrant(t, "hr", GET, "roles.hcl:12,3", "/employees/*/ssn"),
		dry(allowGrant(t, "hr", GET, "roles.hcl:15,3", "/employees/*/ssn")), // an enforced deny still beats it
	))
	for _, c := range []struct {
		name, method, path string
		allow              bool
		reason, dryRun     policy.Reason
		grant, dryGrant    string
	}{
		{"would deny", "GET", "/hr/employees/5/salary", true, policy.ReasonGrantAllowed, policy.DryRunWouldDeny, "roles.hcl:3,3", "roles.hcl:6,3"},
		{"unaffected allow", "GET", "/hr/employees/5", true, policy.ReasonGrantAllowed, "", "roles.hcl:3,3", ""},
		{"would allow", "POST", "/hr/employees", false, policy.ReasonNoMatchingGrant, policy.DryRunWouldAllow, "", "roles.hcl:9,3"},
		{"enforced deny stays", "GET", "/hr/employees/5/ssn", false, policy.ReasonGrantDenied, "", "roles.hcl:12,3", ""},
		{"unaffected refusal", "DELETE", "/hr/employees/5", false, policy.ReasonNoMatchingGrant, "", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := decide(t, s, c.method, c.path, identity(t, s, "reader"))
			origin := func(g *policy.Grant) string {
				if g == nil {
					return ""
				}
				return g.Origin()
			}
			if d.Allow != c.allow || d.Reason != c.reason || d.DryRun != c.dryRun ||
				origin(d.Grant) != c.grant || origin(d.DryRunGrant) != c.dryGrant {
				t.Errorf("got allow=%v %s grant %q, dry run %q by %q; want allow=%v %s grant %q, dry run %q by %q",
					d.Allow, d.Reason, origin(d.Grant), d.DryRun, origin(d.DryRunGrant),
					c.allow, c.reason, c.grant, c.dryRun, c.dryGrant)
			}
		})
	}
	// Grants do not apply to a public route or an admin: neither has a
	// dry-run outcome.
	pub := hrSpec(t,
		allowGrant(t, "hr", GET, "roles.hcl:3,3", "/employees/**"),
		dry(denyGrant(t, "hr", GET, "roles.hcl:6,3", "/employees/*/salary")),
	)
	pub.Upstreams[0].Public = true
	ps := mustNew(t, pub)
	if d := decide(t, ps, "GET", "/hr/employees/5/salary", identity(t, ps, "reader")); d.Reason != policy.ReasonPublic || d.DryRun != "" {
		t.Errorf("public route: %s, dry run %q; want public_route and none", d.Reason, d.DryRun)
	}
	adm := identity(t, s, "reader")
	adm.Admin = true
	if d := decide(t, s, "GET", "/hr/employees/5/salary", adm); d.Reason != policy.ReasonAdmin || d.DryRun != "" {
		t.Errorf("admin: %s, dry run %q; want admin and none", d.Reason, d.DryRun)
	}

	// Explain shows the dry-run outcome apart from the decision.
	e := s.Explain("GET", mustPath(t, "/hr/employees/5/salary"), policy.Caller{ID: identity(t, s, "reader")})
	if e.Decision != "allow" || e.DryRun != "would_deny" || e.DryRunGrant != "roles.hcl:6,3" ||
		!strings.Contains(e.String(), "dry run:") || !strings.Contains(e.String(), "would_deny: dry-run grant at roles.hcl:6,3 (not enforced)") {
		t.Errorf("Explain: decision %s, dry run %q by %q; text:\n%s", e.Decision, e.DryRun, e.DryRunGrant, e.String())
	}
	// Deciding with dry-run grants (two walks) allocates nothing.
	id := identity(t, s, "reader")
	r, _ := s.Route(mustPath(t, "/hr/employees/5/salary"))
	if n := testing.AllocsPerRun(100, func() { s.Decide(policy.Request{Method: "GET", Route: r}, id) }); n != 0 {
		t.Errorf("Decide with dry-run grants allocates %v times", n)
	}
}
