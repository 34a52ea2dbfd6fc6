package policytest_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/policytest"
)

const tableConfig = `
sessions {
  signing_key = "0123456789abcdef0123456789abcdef0123"
}
upstream "hr" {
  url    = "http://127.0.0.1:9002"
  prefix = "/hr"
}
upstream "hdr" {
  url     = "http://127.0.0.1:9004"
  prefix  = "/hdr"
  headers = { "X-User" = "{user.email}", "X-Role" = "{role.name}", "Authorization" = "Bearer {lookup.token}" }
}
secret_lookups {
  token = "s3cr3t-value"
}
upstream "pub" {
  url    = "http://127.0.0.1:9003"
  prefix = "/pub"
  public = true
}
app "portal" {
  api_key_sha256 = "` + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" + `"
  default_role   = "reader"
}
app "old" {
  api_key_sha256 = "` + "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" + `"
  default_role   = "reader"
  active         = false
}
app "other" {
  api_key_sha256 = "` + "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc" + `"
}
role "reader" {
  allow "hr" {
    paths   = ["/items"]
    verbs   = ["GET"]
    filter  = "record.dept == request.query.dept"
  }
}
role "editor" {
  allow "hr" {
    paths = ["/items", "/items/*"]
    verbs = ["GET", "PUT"]
  }
  allow "hdr" {
    paths = ["/**"]
    verbs = ["GET"]
  }
  allow "hr" {
    paths  = ["/depts"]
    verbs  = ["GET"]
    filter = "record.dept == lookup.dept"
  }
}
user "ann" {
  email = "ann@example.com"
  roles = { portal = "editor" }
}
user "gone" {
  roles  = { portal = "editor" }
  active = false
}
admin "root" {
  password_hash = "$argon2id$v=19$m=65536,t=3,p=4$WvxH4rM8TRSu4qQdnFWQYg$ajNJ3GDxbST6N1DQhRGxH60I1gCXxBLnIVggs9WyIZU"
}
ldap "corp" {
  url          = "ldaps://127.0.0.1:1"
  user_base    = "ou=people"
  user_filter  = "(uid={username})"
  roles        = { portal = { "editors" = "editor" } }
  lookups      = { dept = "departmentNumber" }
}
oauth "sso" {
  provider      = "oidc"
  issuer        = "https://127.0.0.1:1"
  client_id     = "x"
  client_secret = "y"
  redirect_url  = "https://127.0.0.1/auth/oauth/sso/callback"
  app           = "other"
}
`

func TestRun(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gatehouse.hcl"), []byte(tableConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	snap, _, _, diags := config.LoadSnapshot(dir)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	resp := `[{"id":1,"dept":"7"},{"id":2,"dept":"8"},{"id":3,"dept":"7"}]`
	for _, c := range []struct {
		name    string
		req     config.TestRequest
		resp    string
		status  int
		reason  string
		headers string // "Name=value;…" of the upstream headers
		records []int
	}{
		{name: "app key, default role, filtered by the query", req: config.TestRequest{App: "portal", Method: "GET", Target: "/hr/items?dept=7"},
			resp: resp, status: 200, reason: "grant_allowed", records: []int{0, 2}},
		{name: "local user", req: config.TestRequest{App: "portal", User: "ann", Method: "PUT", Target: "/hr/items/3"},
			status: 200, reason: "grant_allowed"},
		{name: "local user's headers", req: config.TestRequest{App: "portal", User: "ann", Method: "GET", Target: "/hdr/x"},
			status: 200, reason: "grant_allowed", headers: "Authorization=Bearer s3cr3t-value;X-Role=editor;X-User=ann@example.com"},
		{name: "a header without a value", req: config.TestRequest{App: "portal", User: "dan", Provider: "corp", LDAPGroups: []string{"editors"}, Method: "GET", Target: "/hdr/x"},
			status: 403, reason: "header_unresolved"}, // a directory user has no email
		{name: "inactive user", req: config.TestRequest{App: "portal", User: "gone", Method: "GET", Target: "/hr/items"},
			status: 401, reason: "user_inactive"},
		{name: "inactive app", req: config.TestRequest{App: "old", Method: "GET", Target: "/hr/items"},
			status: 401, reason: "app_inactive"},
		{name: "no credential", req: config.TestRequest{Method: "GET", Target: "/hr/items"},
			status: 401, reason: "missing_api_key"},
		{name: "no credential, public", req: config.TestRequest{Method: "DELETE", Target: "/pub/x"},
			status: 200, reason: "public_route"},
		{name: "no route after authentication", req: config.TestRequest{Method: "GET", Target: "/nope"},
			status: 401, reason: "missing_api_key"},
		{name: "no route", req: config.TestRequest{App: "portal", Method: "GET", Target: "/nope"},
			status: 404, reason: "no_route"},
		{name: "admin", req: config.TestRequest{Admin: "root", Method: "DELETE", Target: "/hr/x"},
			status: 200, reason: "admin"},
		{name: "ldap group, case-insensitive", req: config.TestRequest{App: "portal", User: "dan", Provider: "corp", LDAPGroups: []string{"Editors"}, Method: "PUT", Target: "/hr/items/1"},
			status: 200, reason: "grant_allowed"},
		{name: "ldap, no mapped group: the app's default role", req: config.TestRequest{App: "portal", User: "dan", Provider: "corp", Method: "PUT", Target: "/hr/items/1"},
			status: 403, reason: "no_matching_grant"},
		{name: "ldap, captured lookup filters", req: config.TestRequest{App: "portal", User: "dan", Provider: "corp", LDAPGroups: []string{"editors"},
			Lookups: map[string]string{"dept": "8"}, Method: "GET", Target: "/hr/depts"},
			resp: resp, status: 200, reason: "grant_allowed", records: []int{1}},
		{name: "ldap, no captured lookup: nothing shown", req: config.TestRequest{App: "portal", User: "dan", Provider: "corp", LDAPGroups: []string{"editors"},
			Method: "GET", Target: "/hr/depts"},
			resp: resp, status: 200, reason: "grant_allowed", records: []int{}},
		{name: "ldap, captured value over the limit: nothing shown", req: config.TestRequest{App: "portal", User: "dan", Provider: "corp", LDAPGroups: []string{"editors"},
			Lookups: map[string]string{"dept": strings.Repeat("8", 257)}, Method: "GET", Target: "/hr/depts"},
			resp: resp, status: 200, reason: "grant_allowed", records: []int{}},
		{name: "oauth session with another app's key", req: config.TestRequest{App: "portal", User: "x", Provider: "sso", Method: "GET", Target: "/hr/items"},
			status: 401, reason: "session_wrong_app"},
		{name: "encoded slash", req: config.TestRequest{App: "portal", Method: "GET", Target: "/hr/a%2fb"},
			status: 400, reason: "bad_path"},
		{name: "trace", req: config.TestRequest{App: "portal", Method: "TRACE", Target: "/hr/items"},
			status: 405, reason: "trace_refused"},
	} {
		t.Run(c.name, func(t *testing.T) {
			test := &config.Test{Name: c.name, Request: c.req, Expect: config.TestExpect{Status: c.status, Reason: c.reason}}
			if c.resp != "" {
				test.Expect.Response, test.Expect.HasRecords = []byte(c.resp), true
			}
			r := policytest.Run(snap, test)
			if r.Outcome.Status != c.status || r.Outcome.Reason != c.reason {
				t.Fatalf("got %s, want %d %s", r.Outcome, c.status, c.reason)
			}
			if c.headers != "" {
				var got []string
				for _, h := range r.Outcome.Headers {
					got = append(got, h[0]+"="+h[1])
				}
				slices.Sort(got)
				if strings.Join(got, ";") != c.headers {
					t.Errorf("headers %v, want %s", got, c.headers)
				}
			}
			if c.records != nil && (r.Outcome.Records == nil || !slices.Equal(r.Outcome.Records, c.records)) {
				t.Errorf("records %v, want %v", r.Outcome.Records, c.records)
			}
		})
	}
}

// TestRun_SecretsNotPrinted: a header read from a lookup is never shown in
// a failure; the grant and the other headers are.
func TestRun_SecretsNotPrinted(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gatehouse.hcl"), []byte(tableConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	snap, _, _, diags := config.LoadSnapshot(dir)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	r := policytest.Run(snap, &config.Test{Name: "x",
		Request: config.TestRequest{App: "portal", User: "ann", Method: "GET", Target: "/hdr/x"},
		Expect:  config.TestExpect{Status: 403, UpstreamHeaders: map[string]string{"Authorization": "Bearer nope", "X-User": "bob@example.com"}}})
	got := strings.Join(r.Failures, "; ")
	want := `status 200 (grant_allowed by allow hdr GET /** (gatehouse.hcl:`
	if len(r.Failures) != 3 || !strings.HasPrefix(got, want) || strings.Contains(got, "s3cr3t") ||
		!strings.Contains(got, `upstream header Authorization has another value (read from a lookup: not shown), want "Bearer nope"`) ||
		!strings.Contains(got, `upstream header X-User: "ann@example.com", want "bob@example.com"`) {
		t.Errorf("failures: %s", got)
	}
}

// dry_run on a grant and on a whole role, from the configuration language
// to gatehouse test's expectations: decided by the enforced grants, the
// dry-run outcome reported apart and checked by expect { dry_run }.
func TestRun_DryRun(t *testing.T) {
	dir := t.TempDir()
	cfg := `
upstream "hr" {
  url    = "http://127.0.0.1:9002"
  prefix = "/hr"
}
app "portal" {
  api_key_sha256 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
  default_role   = "reader"
}
app "next" {
  api_key_sha256 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
  default_role   = "trial"
}
role "reader" {
  allow "hr" {
    paths = ["/employees/**"]
    verbs = ["GET"]
  }
  deny "hr" {
    paths   = ["/employees/*/salary"]
    verbs   = ["GET"]
    dry_run = true
  }
}
role "trial" {
  dry_run = true
  allow "hr" {
    paths = ["/employees"]
    verbs = ["GET"]
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "gatehouse.hcl"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	snap, _, _, diags := config.LoadSnapshot(dir)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, c := range []struct {
		name, app, target string
		status            int
		dryRun, expect    string
		fails             bool
	}{
		{"a dry-run deny does not refuse", "portal", "/hr/employees/5/salary", 200, "would_deny", "would_deny", false},
		{"nothing to report", "portal", "/hr/employees/5", 200, "", "none", false},
		{"a dry-run role grants nothing", "next", "/hr/employees", 403, "would_allow", "would_allow", false},
		{"a wrong expectation fails", "portal", "/hr/employees/5/salary", 200, "would_deny", "none", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			test := &config.Test{Name: c.name, Request: config.TestRequest{App: c.app, Method: "GET", Target: c.target},
				Expect: config.TestExpect{Status: c.status, DryRun: c.expect}}
			r := policytest.Run(snap, test)
			if r.Outcome.Status != c.status || r.Outcome.DryRun != c.dryRun {
				t.Errorf("got %s (dry run %q), want %d with dry run %q", r.Outcome, r.Outcome.DryRun, c.status, c.dryRun)
			}
			if r.Passed() == c.fails {
				t.Errorf("passed %v, failures %v", r.Passed(), r.Failures)
			}
			if c.dryRun != "" && !strings.Contains(r.Outcome.String(), "dry run: "+c.dryRun+" by ") {
				t.Errorf("outcome %q does not show the dry-run outcome", r.Outcome)
			}
		})
	}
}

// Check: test lookups need a provider whose block declares them.
func TestCheck_CapturedLookups(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gatehouse.hcl"), []byte(tableConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	snap, _, _, diags := config.LoadSnapshot(dir)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	tests := []*config.Test{
		{Name: "declared", Request: config.TestRequest{App: "portal", User: "dan", Provider: "corp", Lookups: map[string]string{"dept": "7"}, Method: "GET", Target: "/hr/depts"}},
		{Name: "undeclared", Request: config.TestRequest{App: "other", User: "x", Provider: "sso", Lookups: map[string]string{"dept": "7"}, Method: "GET", Target: "/hr/depts"}},
	}
	diags = policytest.Check(snap, tests)
	if len(diags) != 1 || diags[0].Summary != "Unknown lookup" || !strings.Contains(diags[0].Detail, `oauth "sso"`) {
		t.Fatalf("diagnostics: %v", diags)
	}
}
