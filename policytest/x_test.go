package policytest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/policytest"
)

// A session of an X login is the mapped local user's: gatehouse test gives
// it that user's role and email, as the login would, and reports a user
// who is not a local one.
func TestRun_XSession(t *testing.T) {
	dir := t.TempDir()
	src := tableConfig + `
oauth "x" {
  client_id      = "x"
  client_secret  = "y"
  redirect_url   = "https://127.0.0.1/auth/oauth/x/callback"
  app            = "portal"
  match_username = true
}
`
	if err := os.WriteFile(filepath.Join(dir, "gatehouse.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	snap, _, _, diags := config.LoadSnapshot(dir)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, c := range []struct {
		name   string
		user   string
		target string
		status int
		reason string
	}{
		{"the local user's role", "ann", "/hr/items/3", 200, "grant_allowed"},
		{"the local user's email", "ann", "/hdr/x", 200, "grant_allowed"},
		{"an inactive local user", "gone", "/hr/items/3", 401, "user_inactive"},
		{"not a local user", "someone", "/hr/items/3", 401, "unknown_user"},
	} {
		t.Run(c.name, func(t *testing.T) {
			method := "PUT"
			if strings.HasPrefix(c.target, "/hdr") {
				method = "GET"
			}
			test := &config.Test{Name: c.name,
				Request: config.TestRequest{App: "portal", User: c.user, Provider: "x", Method: method, Target: c.target},
				Expect:  config.TestExpect{Status: c.status, Reason: c.reason}}
			r := policytest.Run(snap, test)
			if r.Outcome.Status != c.status || r.Outcome.Reason != c.reason {
				t.Fatalf("got %s, want %d %s", r.Outcome, c.status, c.reason)
			}
			if c.target == "/hdr/x" {
				found := false
				for _, h := range r.Outcome.Headers {
					found = found || h[0] == "X-User" && h[1] == "ann@example.com"
				}
				if !found {
					t.Errorf("headers %v: want X-User ann@example.com", r.Outcome.Headers)
				}
			}
		})
	}
	d := policytest.Check(snap, []*config.Test{{Name: "t", Request: config.TestRequest{App: "portal", User: "someone", Provider: "x", Method: "GET", Target: "/hr/items"}}})
	if len(d) != 1 || d[0].Summary != "Unknown user" {
		t.Errorf("Check: %v, want one Unknown user", d)
	}
}
