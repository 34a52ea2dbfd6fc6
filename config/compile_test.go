package config

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// TestCompile_GrantsDecide checks that grants compiled from HCL decide as
// documented in docs/config.md.
func TestCompile_GrantsDecide(t *testing.T) {
	setTestEnv(t)
	snap, _, _, diags := LoadSnapshot("testdata/valid/full.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	reader, _ := snap.Role("hr_reader")
	app, _ := snap.App("portal")
	tests := []struct {
		name, method, path string
		wantAllow          bool
		wantReason         policy.Reason
		wantOrigin         string
	}{
		{"allow exact", "GET", "/hr/employees", true, policy.ReasonGrantAllowed, "full.hcl:62,3"},
		{"allow star", "HEAD", "/hr/employees/7", true, policy.ReasonGrantAllowed, "full.hcl:62,3"},
		{"trailing slash", "GET", "/hr/employees/", true, policy.ReasonGrantAllowed, "full.hcl:62,3"},
		{"deny beats allow", "GET", "/hr/employees/7/salary", false, policy.ReasonGrantDenied, "full.hcl:68,3"},
		{"verb not granted", "POST", "/hr/employees", false, policy.ReasonNoMatchingGrant, ""},
		{"star is one segment", "GET", "/hr/employees/7/address", false, policy.ReasonNoMatchingGrant, ""},
		{"case-sensitive", "GET", "/hr/Employees", false, policy.ReasonNoMatchingGrant, ""},
		{"public upstream", "DELETE", "/status/x", true, policy.ReasonPublic, ""},
		{"inactive upstream", "GET", "/legacy/v1/x", false, policy.ReasonUpstreamInactive, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := policy.ParsePath(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			route, ok := snap.Route(p)
			if !ok {
				t.Fatalf("no route for %s", tt.path)
			}
			d := snap.Decide(policy.Request{Method: tt.method, Route: route}, policy.Identity{App: app, Role: reader})
			if d.Allow != tt.wantAllow || d.Reason != tt.wantReason {
				t.Errorf("got allow=%v reason=%s, want allow=%v reason=%s", d.Allow, d.Reason, tt.wantAllow, tt.wantReason)
			}
			if tt.wantOrigin != "" && (d.Grant == nil || d.Grant.Origin() != tt.wantOrigin) {
				t.Errorf("got grant %v, want one from %s", d.Grant, tt.wantOrigin)
			}
		})
	}
}
