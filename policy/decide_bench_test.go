package policy_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// bigSnapshot has one upstream "api" at /api and one role "reader" with n
// grants over it: mostly "allow GET,HEAD /r<i>/items/* and /r<i>/items/*/meta",
// every tenth "deny GET /r<i>/**/secret", every hundredth from 50 on
// "allow GET /r<i>/**", and two grants with a leading "**"
// ("/**/audit", "/**/private/**") that every request must walk.
func bigSnapshot(tb testing.TB, n int) *policy.Snapshot {
	tb.Helper()
	grants := make([]policy.GrantSpec, 0, n)
	for i := range n {
		origin := fmt.Sprintf("roles.hcl:%d,3", i+2)
		var g policy.GrantSpec
		switch {
		case i == 1:
			g = allowGrant(tb, "api", GET, origin, "/**/audit")
		case i == 2:
			g = denyGrant(tb, "api", DELETE, origin, "/**/private/**")
		case i%100 == 50:
			g = allowGrant(tb, "api", GET, origin, fmt.Sprintf("/r%d/**", i))
		case i%10 == 0:
			g = denyGrant(tb, "api", GET, origin, fmt.Sprintf("/r%d/**/secret", i))
		default:
			g = allowGrant(tb, "api", GET|HEAD, origin, fmt.Sprintf("/r%d/items/*", i), fmt.Sprintf("/r%d/items/*/meta", i))
		}
		grants = append(grants, g)
	}
	return mustNew(tb, policy.Spec{
		Upstreams: []policy.UpstreamSpec{
			{Name: "api", URL: mustURL(tb, "http://api.internal"), Prefix: "/api", Active: true},
		},
		Roles: []policy.RoleSpec{{Name: "reader", Active: true, Grants: grants}},
		Apps:  []policy.AppSpec{{Name: "portal", KeySHA256: keySum(portalKey), DefaultRole: "reader", Active: true}},
	})
}

type bigCase struct {
	name   string
	path   string
	allow  bool
	reason policy.Reason
}

// bigCases are requests against bigSnapshot(n) that hit grants near the end
// of the set.
func bigCases(n int) []bigCase {
	return []bigCase{
		{"allow", fmt.Sprintf("/api/r%d/items/42", n-4), true, policy.ReasonGrantAllowed},
		{"deny_glob", fmt.Sprintf("/api/r%d/items/42/secret", n-10), false, policy.ReasonGrantDenied},
		{"no_match", fmt.Sprintf("/api/r%d/other/42", n-4), false, policy.ReasonNoMatchingGrant},
		// The worst case a client can pick: the deepest path allowed, full of
		// segments that the "**" deny patterns must try.
		{"deep_path", "/api" + strings.Repeat("/private", policy.MaxPathSegments-1), false, policy.ReasonNoMatchingGrant},
	}
}

// bigRequest parses and routes path and returns it with the identity of the
// role "reader", so that a benchmark loop holds only Decide.
func bigRequest(tb testing.TB, s *policy.Snapshot, path string) (policy.Request, policy.Identity) {
	tb.Helper()
	r, ok := s.Route(mustPath(tb, path))
	if !ok {
		tb.Fatalf("Route(%q): no upstream", path)
	}
	app, _ := s.App("portal")
	role, _ := s.Role("reader")
	return policy.Request{Method: "GET", Route: r}, policy.Identity{App: app, Role: role}
}

func BenchmarkDecide(b *testing.B) {
	for _, n := range []int{10, 10_000} {
		s := bigSnapshot(b, n)
		for _, c := range bigCases(n) {
			if n == 10 && c.name != "allow" {
				continue
			}
			b.Run(fmt.Sprintf("%d_grants_%s", n, c.name), func(b *testing.B) {
				req, id := bigRequest(b, s, c.path)
				if d := s.Decide(req, id); d.Allow != c.allow || d.Reason != c.reason {
					b.Fatalf("GET %s: got (allow=%v, %s), want (allow=%v, %s)", c.path, d.Allow, d.Reason, c.allow, c.reason)
				}
				b.ReportAllocs()
				for b.Loop() {
					s.Decide(req, id)
				}
			})
		}
	}
}

func BenchmarkParsePath(b *testing.B) {
	for _, c := range []struct{ name, raw string }{
		{"canonical", "/api/r9996/items/42/meta"},
		{"encoded", "/api/r%399%396/items/caf%c3%a9|x/%6Deta/"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := policy.ParsePath(c.raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRoute(b *testing.B) {
	ups := []policy.UpstreamSpec{
		{Name: "root", URL: mustURL(b, "http://root.internal"), Prefix: "/", Active: true},
		{Name: "hr", URL: mustURL(b, "http://hr.internal"), Prefix: "/hr", Active: true},
		{Name: "hr_admin", URL: mustURL(b, "http://hr-admin.internal"), Prefix: "/hr/admin", Active: true},
	}
	for i := range 50 {
		ups = append(ups, policy.UpstreamSpec{
			Name: fmt.Sprintf("svc%d", i), URL: mustURL(b, fmt.Sprintf("http://svc%d.internal", i)),
			Prefix: fmt.Sprintf("/svc%d/v1", i), Active: true,
		})
	}
	s := mustNew(b, policy.Spec{Upstreams: ups})
	for _, c := range []struct{ name, path, want string }{
		{"prefix", "/hr/employees/5/salary", "hr"},
		{"nested_prefix", "/hr/admin/users/5/roles", "hr_admin"},
		{"catch_all", "/static/css/site/main.css", "root"},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := mustPath(b, c.path)
			if r, ok := s.Route(p); !ok || r.Upstream.Name() != c.want {
				b.Fatalf("Route(%q): got (%v, %v), want %s", c.path, r.Upstream, ok, c.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				s.Route(p)
			}
		})
	}
}
