package policy_test

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// xSpec is identitySpec with an X-like provider that admits only mapped
// accounts: by id through the table, and by username ignoring case.
func xSpec(t *testing.T, matchUsername bool) policy.Spec {
	t.Helper()
	spec := identitySpec(t)
	spec.OAuth = append(spec.OAuth, policy.OAuthSpec{
		Name: "x", App: "portal", MappedOnly: true, MatchUsername: matchUsername,
		Accounts: map[string]string{"2244994945": "dora", "783214": "bob"},
	})
	return spec
}

// OAuth.Account: the id table first, the username only when asked for and
// only ignoring case, never a default.
func TestOAuthAccount(t *testing.T) {
	cases := []struct {
		name          string
		matchUsername bool
		subject, user string
		want, by      string // "" = not mapped
	}{
		{"id in the table", false, "2244994945", "whoever", "dora", policy.MappedByID},
		{"the id wins over the username", true, "2244994945", "alice", "dora", policy.MappedByID},
		{"inactive users are still returned (the caller refuses)", false, "783214", "", "bob", policy.MappedByID},
		{"unknown id, no username matching", false, "1", "alice", "", ""},
		{"unknown id, username matches a local user", true, "1", "alice", "alice", policy.MappedByUsername},
		{"username matching ignores case", true, "1", "ALICE", "alice", policy.MappedByUsername},
		{"username matching needs the whole name", true, "1", "alic", "", ""},
		{"no username, no id", true, "", "", "", ""},
		{"an empty subject never matches the table", false, "", "dora", "", ""},
		{"admins are not users", true, "1", "root", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := mustNew(t, xSpec(t, tc.matchUsername))
			o, ok := s.OAuth("x")
			if !ok || !o.MappedOnly() {
				t.Fatal("provider x missing or not mapped-only")
			}
			u, by, ok := o.Account(tc.subject, tc.user)
			got := ""
			if ok {
				got = u.Name()
			}
			if got != tc.want || by != tc.by || ok != (tc.want != "") {
				t.Errorf("Account(%q, %q) = %q, %q, %v; want %q, %q", tc.subject, tc.user, got, by, ok, tc.want, tc.by)
			}
		})
	}
	s := mustNew(t, identitySpec(t))
	if o, _ := s.OAuth("sso"); o.MappedOnly() {
		t.Error("an oidc provider without a table is mapped-only")
	}
	if o, _ := s.OAuth("sso"); func() bool { _, _, ok := o.Account("u-alice", "alice"); return ok }() {
		t.Error("a provider without a table maps accounts")
	}
}

// A session of an account-mapped login is a local user's: UserRole gives
// that user's role and fails once the provider is gone.
func TestUserRole_AccountMapped(t *testing.T) {
	s := mustNew(t, xSpec(t, false))
	portal, _ := s.App("portal")
	if r, _, reason := s.UserRole(portal, policy.Subject{Name: "alice", Provider: "x", Local: true}); reason != "" || r == nil || r.Name() != "writer" {
		t.Errorf("mapped session: role %v, reason %q; want writer", r, reason)
	}
	if _, _, reason := s.UserRole(portal, policy.Subject{Name: "alice", Provider: "x-gone", Local: true}); reason != policy.ReasonUnknownProvider {
		t.Errorf("provider removed: reason %q, want %q", reason, policy.ReasonUnknownProvider)
	}
}

// New refuses a table naming no user and username matching over local
// names that differ only in case.
func TestNew_OAuthAccountInvariants(t *testing.T) {
	cases := map[string]func(*policy.Spec){
		"unknown user": func(s *policy.Spec) { s.OAuth[len(s.OAuth)-1].Accounts["5"] = "zed" },
		"empty id":     func(s *policy.Spec) { s.OAuth[len(s.OAuth)-1].Accounts[""] = "alice" },
		"names differing in case": func(s *policy.Spec) {
			s.Users = append(s.Users, policy.UserSpec{Name: "Alice", Active: true})
		},
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			spec := xSpec(t, true)
			edit(&spec)
			if _, err := policy.New(spec); err == nil {
				t.Error("New accepted it")
			}
		})
	}
	// Names differing in case are fine without username matching.
	spec := xSpec(t, false)
	spec.Users = append(spec.Users, policy.UserSpec{Name: "Alice", Active: true})
	if _, err := policy.New(spec); err != nil {
		t.Errorf("New without match_username: %v", err)
	}
}
