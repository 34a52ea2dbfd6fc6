package config

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// The X block: its defaults, the account table and username matching as
// the compiled policy sees them, and a positioned error for each mistake.
func TestOAuthX(t *testing.T) {
	dir := t.TempDir()
	base := oauthAuthBase + `
user "alice" {}
user "bob" { active = false }
role "guest" {}
`
	block := func(body string) string {
		return base + `
oauth "x" {
  client_id     = "x-client"
  client_secret = "x-secret"
  redirect_url  = "https://api.example.test/auth/oauth/x/callback"
  app           = "portal"
` + body + `}
`
	}
	type account struct{ id, username, user, by string }
	for _, tc := range []struct {
		name, body string
		errs       []string  // "summary@line-in-block"; empty: valid
		accounts   []account // expected Account results (user "" = unmapped)
	}{
		{name: "id table", body: "users = { \"2244994945\" = \"alice\", 783214 = \"bob\" }\n", accounts: []account{
			{"2244994945", "whoever", "alice", "id"}, {"783214", "", "bob", "id"}, {"1", "alice", "", ""},
		}},
		{name: "username matching", body: "match_username = true\n", accounts: []account{
			{"1", "Alice", "alice", "username"}, {"1", "carol", "", ""},
		}},
		{name: "both: the id first", body: "users = { \"5\" = \"bob\" }\nmatch_username = true\n", accounts: []account{
			{"5", "alice", "bob", "id"}, {"6", "ALICE", "alice", "username"},
		}},
		{name: "match_username = false alone maps nobody", body: "match_username = false\n", errs: []string{"Missing required argument@1"}},
		{name: "an empty table maps nobody", body: "users = {}\n", errs: []string{"Missing required argument@1"}},
		{name: "an empty table and match_username", body: "users = {}\nmatch_username = true\n", accounts: []account{
			{"1", "alice", "alice", "username"},
		}},
		{name: "no mapping", body: "", errs: []string{"Missing required argument@0"}},
		{name: "username as a key", body: "users = { jack = \"alice\" }\n", errs: []string{"Invalid account id@1"}},
		{name: "unknown user", body: "users = { \"12\" = \"alcie\" }\n", errs: []string{"Unknown user@1"}},
		{name: "default_role", body: "users = { \"12\" = \"alice\" }\ndefault_role = \"guest\"\n", errs: []string{"Setting not used@2"}},
		{name: "plain http endpoint", body: "users = { \"12\" = \"alice\" }\napi_url = \"http://api.x.example/2\"\n", errs: []string{"Invalid URL@2"}},
		{name: "loopback http endpoints", body: "users = { \"12\" = \"alice\" }\nauth_url = \"http://127.0.0.1:1/authorize\"\ntoken_url = \"http://localhost:1/token\"\napi_url = \"http://[::1]:1/2\"\n", accounts: []account{
			{"12", "", "alice", "id"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := block(tc.body)
			path := filepath.Join(dir, "gatehouse.hcl")
			if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			blockLine := strings.Count(src[:strings.Index(src, `oauth "x"`)], "\n") + 1
			bodyLine := blockLine + 5
			snap, rt, _, diags := LoadSnapshot(path)
			var got []string
			for _, d := range diags {
				if d.Severity != hcl.DiagError {
					continue
				}
				line := 0
				if d.Subject.Start.Line != blockLine {
					line = d.Subject.Start.Line - bodyLine + 1
				}
				got = append(got, d.Summary+"@"+strconv.Itoa(line))
			}
			if !slices.Equal(got, tc.errs) {
				t.Fatalf("errors %v, want %v\n%s", got, tc.errs, diags)
			}
			if len(tc.errs) > 0 {
				return
			}
			s := rt.OAuth["x"]
			if s.Provider != "x" || s.TokenAuthMethod != "" {
				t.Errorf("settings: provider %q, method %q; want x and the provider's default", s.Provider, s.TokenAuthMethod)
			}
			o, ok := snap.OAuth("x")
			if !ok || !o.MappedOnly() {
				t.Fatal("oauth x is not mapped-only")
			}
			for _, a := range tc.accounts {
				u, by, ok := o.Account(a.id, a.username)
				name := ""
				if ok {
					name = u.Name()
				}
				if name != a.user || by != a.by {
					t.Errorf("Account(%q, %q) = %q by %q, want %q by %q", a.id, a.username, name, by, a.user, a.by)
				}
			}
		})
	}
}
