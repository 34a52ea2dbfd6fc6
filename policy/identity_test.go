package policy_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/password"
)

func identitySpec(tb testing.TB) policy.Spec {
	tb.Helper()
	hs, err := password.New("pw", password.Argon2Params{Memory: 64, Time: 1, Threads: 1})
	if err != nil {
		tb.Fatal(err)
	}
	h, err := password.Parse(hs)
	if err != nil {
		tb.Fatal(err)
	}
	role := func(name string, active bool) policy.RoleSpec {
		return policy.RoleSpec{Name: name, Active: active, Grants: []policy.GrantSpec{allowGrant(tb, "hr", policy.VerbGET, "", "/x")}}
	}
	return policy.Spec{
		Upstreams: []policy.UpstreamSpec{{Name: "hr", URL: mustURL(tb, "http://127.0.0.1:1"), Prefix: "/hr", Active: true}},
		Roles:     []policy.RoleSpec{role("guest", true), role("reader", true), role("writer", true), role("boss", true)},
		Apps: []policy.AppSpec{
			{Name: "portal", KeySHA256: sha256.Sum256([]byte("k1")), DefaultRole: "guest", Active: true},
			{Name: "bare", KeySHA256: sha256.Sum256([]byte("k2")), Active: true},
		},
		Sessions: &policy.SessionsSpec{HMACKey: []byte(strings.Repeat("k", 32)), TTL: time.Hour, RefreshTTL: time.Hour, CacheSize: 10, Issuer: "t"},
		Users: []policy.UserSpec{
			{Name: "alice", Password: h, Email: "Alice@Example.test", Roles: map[string]string{"portal": "writer"}, Active: true},
			{Name: "bob", Password: h, Active: false},
			{Name: "dora", Active: true},
		},
		Admins: []policy.AdminSpec{{Name: "root", Password: h, Active: true}},
		LDAP: []policy.LDAPSpec{
			{Name: "corp", Roles: map[string][]policy.GroupRole{"portal": {{Group: "Bosses", Role: "boss"}, {Group: "staff", Role: "reader"}}}, DefaultRole: "guest"},
			{Name: "nodefault", Roles: map[string][]policy.GroupRole{"portal": {{Group: "staff", Role: "reader"}}}},
		},
		OAuth: []policy.OAuthSpec{{Name: "sso", App: "portal", DefaultRole: "reader"}, {Name: "gh", App: "bare"}},
	}
}

// UserRole resolves roles in the current snapshot; the table is the rule.
func TestUserRole(t *testing.T) {
	s := mustNew(t, identitySpec(t))
	portal, _ := s.App("portal")
	bare, _ := s.App("bare")
	cases := []struct {
		name   string
		app    *policy.App
		sub    policy.Subject
		role   string // "" = none
		reason policy.Reason
	}{
		{"local user's role for the app", portal, policy.Subject{Name: "alice", Provider: "local", Local: true}, "writer", ""},
		{"local user without a role there: the app default", portal, policy.Subject{Name: "dora", Provider: "local", Local: true}, "guest", ""},
		{"no role and no app default", bare, policy.Subject{Name: "alice", Provider: "local", Local: true}, "", ""},
		{"inactive user", portal, policy.Subject{Name: "bob", Provider: "local", Local: true}, "", policy.ReasonUserInactive},
		{"removed user", portal, policy.Subject{Name: "zed", Provider: "local", Local: true}, "", policy.ReasonUnknownUser},
		{"admins are not users", portal, policy.Subject{Name: "root", Provider: "local", Local: true}, "", policy.ReasonUnknownUser},
		{"ldap: first mapped group in config order", portal, policy.Subject{Name: "x", Provider: "corp", Groups: []string{"staff", "bosses"}}, "boss", ""},
		{"ldap: group names ignore case", portal, policy.Subject{Name: "x", Provider: "corp", Groups: []string{"STAFF"}}, "reader", ""},
		{"ldap: no mapped group, block default", portal, policy.Subject{Name: "x", Provider: "corp", Groups: []string{"other"}}, "guest", ""},
		{"ldap: no block default, app default", portal, policy.Subject{Name: "x", Provider: "nodefault"}, "guest", ""},
		{"ldap: mapping is per app", bare, policy.Subject{Name: "x", Provider: "nodefault", Groups: []string{"staff"}}, "", ""},
		{"oauth: provider default", portal, policy.Subject{Name: "u-1", Provider: "sso"}, "reader", ""},
		{"oauth mapped to a local user by email", portal, policy.Subject{Name: "alice", Provider: "sso", Local: true}, "writer", ""},
		{"oauth-mapped user whose provider was removed", portal, policy.Subject{Name: "alice", Provider: "gone", Local: true}, "", policy.ReasonUnknownProvider},
		{"removed provider", portal, policy.Subject{Name: "x", Provider: "gone"}, "", policy.ReasonUnknownProvider},
		{"a local name is not an ldap user", portal, policy.Subject{Name: "alice", Provider: "local"}, "", policy.ReasonUnknownProvider},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _, reason := s.UserRole(tc.app, tc.sub)
			got := ""
			if r != nil {
				got = r.Name()
			}
			if got != tc.role || reason != tc.reason {
				t.Errorf("UserRole = %q, %q; want %q, %q", got, reason, tc.role, tc.reason)
			}
		})
	}
	if u, ok := s.UserByEmail("alice@EXAMPLE.test"); !ok || u.Name() != "alice" {
		t.Error("UserByEmail ignores case")
	}
	if s.DummyPassword() == nil || s.DummyPassword().Verify("pw") {
		t.Error("dummy password missing or verifies the real password")
	}
}

// New refuses what config reports with positions, so that a snapshot built
// some other way cannot break the invariants either.
func TestNew_IdentityInvariants(t *testing.T) {
	cases := map[string]func(*policy.Spec){
		"users without sessions": func(s *policy.Spec) { s.Sessions = nil },
		"short HMAC key":         func(s *policy.Spec) { s.Sessions.HMACKey = []byte("short") },
		"two keys": func(s *policy.Spec) {
			s.Sessions.Ed25519Key = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
		},
		"short Ed25519 key": func(s *policy.Spec) {
			s.Sessions.HMACKey, s.Sessions.Ed25519Key = nil, make([]byte, ed25519.PublicKeySize)
		},
		"refresh shorter than ttl": func(s *policy.Spec) { s.Sessions.RefreshTTL = time.Minute },
		"user role unknown":        func(s *policy.Spec) { s.Users[0].Roles["portal"] = "nope" },
		"user app unknown":         func(s *policy.Spec) { s.Users[0].Roles["nope"] = "guest" },
		"duplicate email":          func(s *policy.Spec) { s.Users[1].Email = "alice@example.TEST" },
		"admin without password":   func(s *policy.Spec) { s.Admins[0].Password = nil },
		"ldap role unknown":        func(s *policy.Spec) { s.LDAP[0].DefaultRole = "nope" },
		"oauth app unknown":        func(s *policy.Spec) { s.OAuth[0].App = "nope" },
		"provider named local":     func(s *policy.Spec) { s.OAuth[0].Name = "local" },
		"provider name clash":      func(s *policy.Spec) { s.OAuth[0].Name = "corp" },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			spec := identitySpec(t)
			edit(&spec)
			if _, err := policy.New(spec); err == nil {
				t.Error("New accepted it")
			}
		})
	}
}

// A snapshot with a sessions block carries its compiled keys, so loading it
// cannot fail on them.
func TestSnapshot_SessionKeys(t *testing.T) {
	spec := identitySpec(t)
	hmac := mustNew(t, spec).SessionKeys()
	if hmac == nil || hmac.Algorithm() != policy.AlgHS256 || hmac.KeyID() == "" || hmac.TTL() != spec.Sessions.TTL || hmac.RefreshTTL() != spec.Sessions.RefreshTTL || hmac.Issuer() != spec.Sessions.Issuer {
		t.Fatalf("HMAC keys %+v", hmac)
	}
	spec.Sessions.HMACKey, spec.Sessions.Ed25519Key = nil, ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	ed := mustNew(t, spec).SessionKeys()
	if ed == nil || ed.Algorithm() != policy.AlgEdDSA || ed.ID() == hmac.ID() || len(ed.JWKS()["keys"].([]map[string]string)) != 1 {
		t.Fatalf("Ed25519 keys %+v", ed)
	}
	if k := mustNew(t, policy.Spec{}).SessionKeys(); k != nil {
		t.Errorf("keys without a sessions block: %+v", k)
	}
}

func BenchmarkUserRole(b *testing.B) {
	s := mustNew(b, identitySpec(b))
	portal, _ := s.App("portal")
	for _, bc := range []struct {
		name string
		sub  policy.Subject
	}{
		{"local", policy.Subject{Name: "alice", Provider: "local", Local: true}},
		{"ldap", policy.Subject{Name: "x", Provider: "corp", Groups: []string{"a", "b", "staff"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r, _, _ := s.UserRole(portal, bc.sub); r == nil {
					b.Fatal("no role")
				}
			}
		})
	}
}
