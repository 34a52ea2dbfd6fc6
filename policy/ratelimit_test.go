package policy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// Which rate limits apply to a request: every one of the deciding grant,
// the local user, the role and the app that has one, most specific first.
func TestRateLimits(t *testing.T) {
	rl := func(n int) *policy.RateLimitSpec {
		return &policy.RateLimitSpec{Requests: n, Period: time.Minute, Burst: n}
	}
	limited := allowGrant(t, "hr", GET, "roles.hcl:3,3", "/employees/*")
	limited.RateLimit = rl(5)
	plain := allowGrant(t, "hr", GET|POST, "roles.hcl:9,3", "/**")
	spec := hrSpec(t, limited, plain)
	spec.Roles[0].RateLimit = rl(50)
	spec.Apps[0].RateLimit = rl(100)
	spec.Roles = append(spec.Roles, policy.RoleSpec{Name: "free", Active: true, Grants: []policy.GrantSpec{plain}, Origin: "roles.hcl:60,1"})
	spec.Sessions = &policy.SessionsSpec{HMACKey: []byte(strings.Repeat("k", 32)), TTL: time.Hour, RefreshTTL: time.Hour, CacheSize: 10, Issuer: "t"}
	spec.Users = []policy.UserSpec{
		{Name: "alice", Roles: map[string]string{"portal": "reader"}, Active: true, RateLimit: rl(20)},
		{Name: "bob", Roles: map[string]string{"portal": "reader"}, Active: true},
	}
	s := mustNew(t, spec)
	app, _ := s.App("portal")
	reader, _ := s.Role("reader")
	free, _ := s.Role("free")
	cases := []struct {
		name   string
		path   string
		id     policy.Identity
		want   string // the IDs, most specific first
		policy string // the first one's RateLimit-Policy item
	}{
		{"grant, user, role and app", "/hr/employees/7", policy.Identity{App: app, User: "alice", Role: reader}, "grant:reader:0 user:alice role:reader app:portal", `"grant";q=5;w=60`},
		{"a grant without a limit", "/hr/payroll", policy.Identity{App: app, User: "alice", Role: reader}, "user:alice role:reader app:portal", `"user";q=20;w=60`},
		{"a user without a limit", "/hr/employees/7", policy.Identity{App: app, User: "bob", Role: reader}, "grant:reader:0 role:reader app:portal", `"grant";q=5;w=60`},
		{"a user not configured here (LDAP, OAuth)", "/hr/payroll", policy.Identity{App: app, User: "carol", Role: reader}, "role:reader app:portal", `"role";q=50;w=60`},
		{"guest: the app's default role", "/hr/payroll", policy.Identity{App: app, Role: reader}, "role:reader app:portal", `"role";q=50;w=60`},
		{"a role without a limit", "/hr/payroll", policy.Identity{App: app, Role: free}, "app:portal", `"app";q=100;w=60`},
		{"admin: the app's only", "/hr/payroll", policy.Identity{App: app, User: "root", Admin: true}, "app:portal", `"app";q=100;w=60`},
		{"an admin named as a user: not the user's", "/hr/payroll", policy.Identity{App: app, User: "alice", Admin: true}, "app:portal", `"app";q=100;w=60`},
		{"an admin without an app key", "/hr/payroll", policy.Identity{User: "alice", Admin: true}, "", ""},
		{"anonymous on a public upstream", "/pub/x", policy.Identity{}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := decide(t, s, "GET", tc.path, tc.id)
			if !d.Allow {
				t.Fatalf("not allowed: %+v", d)
			}
			var buf [4]*policy.RateLimit
			got := s.RateLimits(buf[:0], tc.id, d)
			ids := make([]string, len(got))
			for i, l := range got {
				ids[i] = l.ID()
			}
			if g := strings.Join(ids, " "); g != tc.want {
				t.Errorf("limits %q, want %q", g, tc.want)
			}
			if len(got) > 0 && got[0].Policy() != tc.policy {
				t.Errorf("policy %q, want %q", got[0].Policy(), tc.policy)
			}
		})
	}
	// No rate_limit anywhere: nothing to look at, no allocation.
	plainSnap := mustNew(t, hrSpec(t, plain))
	d := decide(t, plainSnap, "GET", "/hr/x", identity(t, plainSnap, "reader"))
	id := identity(t, plainSnap, "reader")
	var buf [4]*policy.RateLimit
	if n := testing.AllocsPerRun(100, func() { _ = plainSnap.RateLimits(buf[:0], id, d) }); n != 0 || plainSnap.HasRateLimits() {
		t.Errorf("without limits: %v allocations, HasRateLimits %v", n, plainSnap.HasRateLimits())
	}
	if n := testing.AllocsPerRun(100, func() { _ = s.RateLimits(buf[:0], policy.Identity{App: app, User: "alice", Role: reader}, d) }); n != 0 {
		t.Errorf("with limits: %v allocations", n)
	}
}

// New refuses what config reports with positions: bad numbers, a period
// that is not whole seconds, a limit on a deny grant.
func TestRateLimits_Invalid(t *testing.T) {
	for name, mutate := range map[string]func(*policy.Spec){
		"zero requests": func(s *policy.Spec) {
			s.Apps[0].RateLimit = &policy.RateLimitSpec{Requests: 0, Period: time.Second, Burst: 1}
		},
		"zero burst": func(s *policy.Spec) {
			s.Roles[0].RateLimit = &policy.RateLimitSpec{Requests: 1, Period: time.Second, Burst: 0}
		},
		"sub-second period": func(s *policy.Spec) {
			s.Apps[0].RateLimit = &policy.RateLimitSpec{Requests: 1, Period: time.Millisecond, Burst: 1}
		},
		"fractional seconds": func(s *policy.Spec) {
			s.Apps[0].RateLimit = &policy.RateLimitSpec{Requests: 1, Period: 1500 * time.Millisecond, Burst: 1}
		},
		"deny grant": func(s *policy.Spec) {
			s.Roles[0].Grants[0].RateLimit = &policy.RateLimitSpec{Requests: 1, Period: time.Second, Burst: 1}
		},
	} {
		spec := hrSpec(t, denyGrant(t, "hr", GET, "roles.hcl:1,1", "/x"))
		mutate(&spec)
		if _, err := policy.New(spec); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}
