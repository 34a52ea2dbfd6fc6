package policy_test

import (
	"crypto/sha256"
	"net/url"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// The policy package cannot import config (config imports policy), so its
// tests build snapshots from a Spec written in Go.

func mustGlobs(tb testing.TB, pats ...string) []policy.Glob {
	tb.Helper()
	out := make([]policy.Glob, 0, len(pats))
	for _, p := range pats {
		g, err := policy.ParseGlob(p)
		if err != nil {
			tb.Fatalf("ParseGlob(%q): %v", p, err)
		}
		out = append(out, g)
	}
	return out
}

func mustURL(tb testing.TB, s string) *url.URL {
	tb.Helper()
	u, err := url.Parse(s)
	if err != nil {
		tb.Fatalf("url.Parse(%q): %v", s, err)
	}
	return u
}

func mustPath(tb testing.TB, raw string) policy.Path {
	tb.Helper()
	p, err := policy.ParsePath(raw)
	if err != nil {
		tb.Fatalf("ParsePath(%q): %v", raw, err)
	}
	return p
}

func mustNew(tb testing.TB, spec policy.Spec) *policy.Snapshot {
	tb.Helper()
	s, err := policy.New(spec)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return s
}

func allowGrant(tb testing.TB, upstream string, verbs policy.Verb, origin string, paths ...string) policy.GrantSpec {
	tb.Helper()
	return policy.GrantSpec{Upstream: upstream, Verbs: verbs, Paths: mustGlobs(tb, paths...), Origin: origin}
}

func denyGrant(tb testing.TB, upstream string, verbs policy.Verb, origin string, paths ...string) policy.GrantSpec {
	tb.Helper()
	g := allowGrant(tb, upstream, verbs, origin, paths...)
	g.Deny = true
	return g
}

func keySum(key string) [32]byte { return sha256.Sum256([]byte(key)) }

const (
	portalKey = "gh_test_portal_key"
	oldKey    = "gh_test_old_key"
)

// hrSpec has the upstreams "hr" at /hr, "crm" at /crm, the public "pub" at
// /pub and the inactive "old" at /old; the role "reader" holds grants, the
// inactive role "suspended" holds the same grants; the app "portal" defaults
// to "reader" and the inactive app "old" to "suspended".
func hrSpec(tb testing.TB, grants ...policy.GrantSpec) policy.Spec {
	tb.Helper()
	return policy.Spec{
		Hash: "test",
		Upstreams: []policy.UpstreamSpec{
			{Name: "hr", URL: mustURL(tb, "http://hr.internal:8080/api"), Prefix: "/hr", Active: true, Origin: "upstreams.hcl:1,1"},
			{Name: "crm", URL: mustURL(tb, "https://crm.internal"), Prefix: "/crm", Active: true, Origin: "upstreams.hcl:8,1"},
			{Name: "pub", URL: mustURL(tb, "http://static.internal"), Prefix: "/pub", Active: true, Public: true, Origin: "upstreams.hcl:15,1"},
			{Name: "old", URL: mustURL(tb, "http://old.internal"), Prefix: "/old", Active: false, Origin: "upstreams.hcl:22,1"},
		},
		Roles: []policy.RoleSpec{
			{Name: "reader", Active: true, Grants: grants, Origin: "roles.hcl:1,1"},
			{Name: "suspended", Active: false, Grants: grants, Origin: "roles.hcl:40,1"},
		},
		Apps: []policy.AppSpec{
			{Name: "portal", KeySHA256: keySum(portalKey), DefaultRole: "reader", Active: true, Origin: "apps.hcl:1,1"},
			{Name: "old", KeySHA256: keySum(oldKey), DefaultRole: "suspended", Active: false, Origin: "apps.hcl:9,1"},
		},
	}
}
