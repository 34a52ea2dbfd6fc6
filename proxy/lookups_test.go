package proxy

import (
	"net/http"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

func mustTemplate(t *testing.T, name, value string) policy.HeaderTemplate {
	t.Helper()
	h, err := policy.ParseHeaderTemplate(name, value)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Upstream header templates: lookups merged user > role > app > system,
// the caller's identity, client spoofs replaced, and unresolvable
// placeholders refused before the upstream is asked.
func TestUpstreamHeaders(t *testing.T) {
	up := newUpstream(t, nil)
	spec := sessionSpec(t, up.URL)
	spec.Lookups = map[string]any{"tenant": "sys", "level": int64(1)}
	spec.SecretLookups = map[string]any{"token": "s3cret"}
	spec.Apps[0].Lookups = map[string]any{"tenant": "portal-tenant"}
	spec.Users[0].Lookups = map[string]any{"level": int64(7)}
	spec.Upstreams[0].Headers = []policy.HeaderTemplate{
		mustTemplate(t, "X-Tenant", "{lookup.tenant}"),
		mustTemplate(t, "X-Level", "L{lookup.level}"),
		mustTemplate(t, "Authorization", "Bearer {lookup.token}"),
	}
	p := newTestProxy(t, spec)
	req, _ := http.NewRequest("GET", p.URL+"/hr/employees", nil)
	req.Header.Set("X-API-Key", testKey)
	req.Header["X_tenant"] = []string{"spoofed"}
	req.Header.Set("X-Tenant", "spoofed")
	res, _ := do(t, p.Client(), req)
	if res.StatusCode != 200 {
		t.Fatalf("guest: %d", res.StatusCode)
	}
	got := up.last(t).Header
	if len(got["X-Tenant"]) != 1 || got.Get("X-Tenant") != "portal-tenant" || got.Get("X-Level") != "L1" || got.Get("Authorization") != "Bearer s3cret" || len(got["X_tenant"]) != 0 {
		t.Errorf("guest headers: %v", got)
	}
	tok := p.mustLogin(t, testKey, "alice", "alicepw")
	if res, _ := p.call(t, "GET", "/hr/employees", testKey, tok); res.StatusCode != 200 {
		t.Fatalf("alice: %d", res.StatusCode)
	}
	if got := up.last(t).Header; got.Get("X-Level") != "L7" || got.Get("Authorization") != "Bearer s3cret" {
		t.Errorf("alice headers: %v", got)
	}

	// {user.name} has no value for a guest: refused, upstream untouched.
	spec.Upstreams[0].Headers = []policy.HeaderTemplate{mustTemplate(t, "X-User", "{user.name}")}
	snap, err := policy.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	p.srv.Load(snap, nil)
	n := len(up.requests())
	if res, _ := p.call(t, "GET", "/hr/employees", testKey, ""); res.StatusCode != http.StatusForbidden {
		t.Errorf("guest with a {user.name} header: %d, want 403", res.StatusCode)
	}
	if len(up.requests()) != n {
		t.Error("an unresolved request reached the upstream")
	}
	if res, _ := p.call(t, "GET", "/hr/employees", testKey, tok); res.StatusCode != 200 || up.last(t).Header.Get("X-User") != "alice" {
		t.Errorf("alice with a {user.name} header: %d", res.StatusCode)
	}
}

func TestParseHeaderTemplate(t *testing.T) {
	for _, bad := range []string{"{", "}", "{nope}", "{lookup.}", "{user.password}", "a{lookup.x"} {
		if _, err := policy.ParseHeaderTemplate("X", bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	h := mustTemplate(t, "X", "a-{lookup.x}-{user.name}-b")
	v, ok := h.Render(func(ref string) (string, bool) {
		return map[string]string{"lookup.x": "1", "user.name": "u"}[ref], true
	})
	if !ok || v != "a-1-u-b" {
		t.Errorf("Render = %q %v", v, ok)
	}
	if _, ok := h.Render(func(string) (string, bool) { return "x\r\nInjected: 1", true }); ok {
		t.Error("a value with CR LF rendered")
	}
}
