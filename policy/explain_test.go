package policy_test

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
)

func nearSpec(t *testing.T) *policy.Snapshot {
	return mustNew(t, hrSpec(t,
		allowGrant(t, "hr", GET, "roles.hcl:3,3", "/employees/**"),
		allowGrant(t, "hr", POST, "roles.hcl:5,3", "/employees/*"),
		denyGrant(t, "hr", DELETE, "roles.hcl:7,3", "/employees/*/salary"),
		allowGrant(t, "hr", DELETE, "roles.hcl:9,3", "/employees/**"),
		allowGrant(t, "hr", GET, "roles.hcl:11,3", "/reports"),
	))
}

func TestDecide_NearMiss(t *testing.T) {
	s := nearSpec(t)
	for _, tc := range []struct {
		name, method, path string
		reason             policy.Reason
		grant, near        string
		nearReason         policy.Reason
	}{
		{"Allowed", "GET", "/hr/employees/5", policy.ReasonGrantAllowed, "roles.hcl:3,3", "", ""},
		{"VerbNotGranted", "PUT", "/hr/employees/5", policy.ReasonNoMatchingGrant, "", "roles.hcl:3,3", policy.NearVerbNotGranted},
		{"VerbNotGrantedFirstDeclared", "PATCH", "/hr/employees/5", policy.ReasonNoMatchingGrant, "", "roles.hcl:3,3", policy.NearVerbNotGranted},
		{"VerbNotGrantedOnlyOne", "POST", "/hr/reports", policy.ReasonNoMatchingGrant, "", "roles.hcl:11,3", policy.NearVerbNotGranted},
		{"OverriddenByDeny", "DELETE", "/hr/employees/5/salary", policy.ReasonGrantDenied, "roles.hcl:7,3", "roles.hcl:9,3", policy.NearOverriddenByDeny},
		{"NoPathMatched", "GET", "/hr/payroll", policy.ReasonNoMatchingGrant, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := decide(t, s, tc.method, tc.path, identity(t, s, "reader"))
			var g, n string
			if d.Grant != nil {
				g = d.Grant.Origin()
			}
			if d.NearMiss != nil {
				n = d.NearMiss.Origin()
			}
			if d.Reason != tc.reason || g != tc.grant || n != tc.near || d.NearReason != tc.nearReason {
				t.Errorf("got (%s, grant %q, near %q %s), want (%s, grant %q, near %q %s)",
					d.Reason, g, n, d.NearReason, tc.reason, tc.grant, tc.near, tc.nearReason)
			}
		})
	}
}

func TestDecide_AllowedDoesNotAllocate(t *testing.T) {
	s := nearSpec(t)
	id := identity(t, s, "reader")
	r, _ := s.Route(mustPath(t, "/hr/employees/5/x"))
	req := policy.Request{Method: "GET", Route: r}
	if n := testing.AllocsPerRun(100, func() { _ = s.Decide(req, id) }); n != 0 {
		t.Errorf("allowed Decide: %v allocs, want 0", n)
	}
	req.Method = "PUT"
	if n := testing.AllocsPerRun(100, func() { _ = s.Decide(req, id) }); n != 0 {
		t.Errorf("refused Decide with a near miss: %v allocs, want 0", n)
	}
}

func TestExplain_AgreesAndListsGrants(t *testing.T) {
	s := nearSpec(t)
	id := identity(t, s, "reader")
	for _, m := range []string{"GET", "PUT", "DELETE", "POST", "TRACE"} {
		for _, p := range []string{"/hr/employees/5/salary", "/hr/employees/5", "/hr/reports", "/hr", "/pub/x", "/old/x"} {
			e := s.Explain(m, mustPath(t, p), policy.Caller{ID: id})
			d := decide(t, s, m, p, id)
			if e.Decided != d {
				t.Errorf("%s %s: Explain decided %+v, Decide %+v", m, p, e.Decided, d)
			}
		}
	}
	e := s.Explain("DELETE", mustPath(t, "/hr/employees/5/salary"), policy.Caller{ID: id})
	got := map[string]string{}
	for _, g := range e.Grants {
		got[g.Origin] = g.Outcome
	}
	want := map[string]string{
		"roles.hcl:3,3": policy.OutcomeVerbNotGranted,
		"roles.hcl:7,3": policy.OutcomeDecided,
		"roles.hcl:9,3": policy.OutcomeOverriddenDeny,
	}
	if len(got) != len(want) {
		t.Errorf("grants %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("grant %s: outcome %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if e.Upstream != "hr" || e.ForwardedPath != "/api/employees/5/salary" || e.Decision != "deny" || e.Reason != "grant_denied" ||
		e.NearGrant != "roles.hcl:9,3" || e.NearReason != "overridden_by_deny" {
		t.Errorf("explanation: %+v", e)
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "null") {
		t.Errorf("JSON has a null: %s", b)
	}
	if !strings.Contains(e.String(), "near miss:") {
		t.Errorf("text lacks the near miss:\n%s", e.String())
	}
}

func TestExplain_NotEvaluatedAndNoRoute(t *testing.T) {
	s := nearSpec(t)
	e := s.Explain("GET", mustPath(t, "/hr/employees/5"), policy.Caller{ID: identity(t, s, "suspended")})
	if e.Reason != string(policy.ReasonRoleInactive) || len(e.Grants) != 3 {
		t.Errorf("inactive role: %+v", e)
	}
	for _, g := range e.Grants {
		if g.Outcome != policy.OutcomeNotEvaluated {
			t.Errorf("inactive role: grant %s outcome %s, want not_evaluated", g.Origin, g.Outcome)
		}
	}
	e = s.Explain("GET", mustPath(t, "/nowhere"), policy.Caller{ID: identity(t, s, "reader")})
	if e.Routed || e.Status != 404 || e.Reason != "no_route" {
		t.Errorf("no route: %+v", e)
	}
}

func TestExplain_SecretLookupsBlanked(t *testing.T) {
	spec := hrSpec(t, allowGrant(t, "hr", GET, "g", "/**"))
	spec.Lookups = map[string]any{"region": "eu"}
	spec.SecretLookups = map[string]any{"token": "s3cr3t"}
	h1, err := policy.ParseHeaderTemplate("X-Token", "Bearer {lookup.token}")
	if err != nil {
		t.Fatal(err)
	}
	h2, err := policy.ParseHeaderTemplate("X-Region", "{lookup.region}/{role.name}")
	if err != nil {
		t.Fatal(err)
	}
	h3, err := policy.ParseHeaderTemplate("X-Mail", "{user.email}")
	if err != nil {
		t.Fatal(err)
	}
	spec.Upstreams[0].Headers = []policy.HeaderTemplate{h1, h2, h3}
	s := mustNew(t, spec)
	e := s.Explain("GET", mustPath(t, "/hr/x"), policy.Caller{ID: identity(t, s, "reader")})
	b, _ := json.Marshal(e)
	if strings.Contains(string(b), "s3cr3t") || strings.Contains(e.String(), "s3cr3t") {
		t.Fatalf("secret printed: %s", b)
	}
	want := map[string]string{"X-Token": "Bearer (secret)", "X-Region": "eu/reader", "X-Mail": ""}
	for _, h := range e.Headers {
		if h.Value != want[h.Name] {
			t.Errorf("header %s = %q, want %q", h.Name, h.Value, want[h.Name])
		}
	}
	if e.Decision != "deny" || e.Reason != "header_unresolved" {
		t.Errorf("no e-mail for {user.email}: got %s %s, want deny header_unresolved", e.Decision, e.Reason)
	}
	e = s.Explain("GET", mustPath(t, "/hr/x"), policy.Caller{ID: identity(t, s, "reader"), Email: "a@example.com"})
	if e.Decision != "allow" {
		t.Errorf("with e-mail: %s %s", e.Decision, e.Reason)
	}
}

// Captured lookups show with the scope "provider", over the system's, and
// only the names the provider declares; a header template renders them.
func TestExplain_CapturedLookups(t *testing.T) {
	spec := hrSpec(t, allowGrant(t, "hr", GET, "g", "/**"))
	spec.Lookups = map[string]any{"department": "none", "region": "eu"}
	spec.Sessions = &policy.SessionsSpec{HMACKey: []byte(strings.Repeat("k", 32)), TTL: time.Hour, RefreshTTL: time.Hour, CacheSize: 10, Issuer: "t"}
	spec.LDAP = []policy.LDAPSpec{{Name: "corp", Lookups: []string{"department"}}}
	h, err := policy.ParseHeaderTemplate("X-Department", "{lookup.department}")
	if err != nil {
		t.Fatal(err)
	}
	spec.Upstreams[0].Headers = []policy.HeaderTemplate{h}
	s := mustNew(t, spec)
	e := s.Explain("GET", mustPath(t, "/hr/x"), policy.Caller{ID: identity(t, s, "reader"), Provider: "corp",
		Captured: map[string]string{"department": "sales", "region": "us"}})
	got := map[string]string{}
	for _, l := range e.Lookups {
		got[l.Name] = l.Value + " (" + l.Scope + ")"
	}
	want := map[string]string{"department": "sales (provider)", "region": "eu (system)"}
	if !maps.Equal(got, want) {
		t.Errorf("lookups %v, want %v", got, want)
	}
	if len(e.Headers) != 1 || e.Headers[0].Value != "sales" {
		t.Errorf("headers %+v", e.Headers)
	}
}
