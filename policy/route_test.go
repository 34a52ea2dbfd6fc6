package policy_test

import (
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

type routeCase struct {
	path     string // raw request path
	upstream string // "" = no route
	rest     string
	segs     []string
}

// routeSpec declares the prefixes "/", "/hr", "/hr/admin", "/api/v1",
// "/caf%C3%A9" and "/Docs"; without root it leaves "/" out.
func routeSpec(tb testing.TB, root bool) policy.Spec {
	tb.Helper()
	up := func(name, prefix string) policy.UpstreamSpec {
		return policy.UpstreamSpec{Name: name, URL: mustURL(tb, "http://"+name+".internal"), Prefix: prefix, Active: true}
	}
	ups := []policy.UpstreamSpec{
		up("hr", "/hr"), up("hradmin", "/hr/admin"), up("apiv1", "/api/v1"), up("cafe", "/caf%C3%A9"), up("docs", "/Docs"),
	}
	if root {
		ups = append(ups, up("root", "/"))
	}
	return policy.Spec{Upstreams: ups}
}

func runRoute(t *testing.T, s *policy.Snapshot, cases []routeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			r, ok := s.Route(mustPath(t, tc.path))
			if tc.upstream == "" {
				if ok {
					t.Fatalf("Route(%q): got upstream %q, want no route", tc.path, r.Upstream.Name())
				}
				if r.Upstream != nil || r.Rest != "" || r.Segments != nil {
					t.Errorf("Route(%q) without a route: got %+v, want zero Route", tc.path, r)
				}
				return
			}
			if !ok {
				t.Fatalf("Route(%q): got no route, want upstream %q", tc.path, tc.upstream)
			}
			if got := r.Upstream.Name(); got != tc.upstream {
				t.Errorf("Route(%q).Upstream: got %q, want %q", tc.path, got, tc.upstream)
			}
			if r.Rest != tc.rest {
				t.Errorf("Route(%q).Rest: got %q, want %q", tc.path, r.Rest, tc.rest)
			}
			if len(r.Segments) != len(tc.segs) || !slices.Equal(r.Segments, tc.segs) {
				t.Errorf("Route(%q).Segments: got %q, want %q", tc.path, r.Segments, tc.segs)
			}
		})
	}
}

func TestRoute_LongestPrefixWins(t *testing.T) {
	runRoute(t, mustNew(t, routeSpec(t, true)), []routeCase{
		{"/hr/admin/users", "hradmin", "/users", []string{"users"}},
		{"/hr/admin", "hradmin", "", nil},
		{"/hr/administrator", "hr", "/administrator", []string{"administrator"}},
		{"/hr/users/admin", "hr", "/users/admin", []string{"users", "admin"}},
		{"/api/v1/x", "apiv1", "/x", []string{"x"}},
		{"/api/v2/x", "root", "/api/v2/x", []string{"api", "v2", "x"}},
		{"/api", "root", "/api", []string{"api"}},
	})
}

func TestRoute_SegmentBoundary(t *testing.T) {
	runRoute(t, mustNew(t, routeSpec(t, true)), []routeCase{
		{"/hrx", "root", "/hrx", []string{"hrx"}},
		{"/hrx/y", "root", "/hrx/y", []string{"hrx", "y"}},
		{"/hr", "hr", "", nil},
		{"/hr/x", "hr", "/x", []string{"x"}},
		{"/api/v10", "root", "/api/v10", []string{"api", "v10"}},
	})
}

func TestRoute_RootCatchAll(t *testing.T) {
	runRoute(t, mustNew(t, routeSpec(t, true)), []routeCase{
		{"/", "root", "/", nil},
		{"/x", "root", "/x", []string{"x"}},
		{"/x/y/", "root", "/x/y/", []string{"x", "y"}},
	})
}

func TestRoute_RestAndSegments(t *testing.T) {
	runRoute(t, mustNew(t, routeSpec(t, true)), []routeCase{
		{"/hr/employees/5/salary", "hr", "/employees/5/salary", []string{"employees", "5", "salary"}},
		// Rest is canonical: it is what gets forwarded.
		{"/hr/caf%c3%a9/%61|b", "hr", "/caf%C3%A9/a%7Cb", []string{"café", "a|b"}},
		{"/caf%c3%a9/x", "cafe", "/x", []string{"x"}},
		{"/café", "cafe", "", nil},
	})
}

func TestRoute_TrailingSlash(t *testing.T) {
	runRoute(t, mustNew(t, routeSpec(t, true)), []routeCase{
		{"/hr/", "hr", "/", nil},
		{"/hr/admin/", "hradmin", "/", nil},
		{"/hr/employees/", "hr", "/employees/", []string{"employees"}},
		{"/hrx/", "root", "/hrx/", []string{"hrx"}},
	})
}

func TestRoute_CaseSensitive(t *testing.T) {
	runRoute(t, mustNew(t, routeSpec(t, true)), []routeCase{
		{"/HR/x", "root", "/HR/x", []string{"HR", "x"}},
		{"/Hr", "root", "/Hr", []string{"Hr"}},
		{"/Docs/a", "docs", "/a", []string{"a"}},
		{"/docs/a", "root", "/docs/a", []string{"docs", "a"}},
		{"/caf%C3%89", "root", "/caf%C3%89", []string{"cafÉ"}},
	})
}

func TestRoute_NoMatch(t *testing.T) {
	runRoute(t, mustNew(t, routeSpec(t, false)), []routeCase{
		{"/", "", "", nil},
		{"/x", "", "", nil},
		{"/hrx", "", "", nil},
		{"/HR", "", "", nil},
		{"/api/v2/x", "", "", nil},
		{"/hr/x", "hr", "/x", []string{"x"}},
	})
}
