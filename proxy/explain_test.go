package proxy

import (
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/settings"
)

// POST /admin/explain answers with the live snapshot's explanation, for
// the admin token only; unknown names and bad bodies are 400.
func TestAdmin_Explain(t *testing.T) {
	const token = "gh_admin_0123456789abcdefghijklmnopqrstuvwxyzABCD"
	sum := sha256.Sum256([]byte(token))
	spec := sessionSpec(t, "http://127.0.0.1:9")
	spec.Apps[0].Secrets = map[string]any{"tenant": "s3cr3t"}
	h, err := policy.ParseHeaderTemplate("X-Tenant", "{lookup.tenant}")
	if err != nil {
		t.Fatal(err)
	}
	spec.Upstreams[0].Headers = []policy.HeaderTemplate{h}
	snap, err := policy.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Options{Logger: discardLogger()})
	srv.Load(snap, &settings.Runtime{AdminTokenSHA256: &sum})
	t.Cleanup(func() { srv.Close() })
	admin := srv.AdminHandler(AdminOptions{})
	post := func(body, auth string) (int, string) {
		t.Helper()
		r := httptest.NewRequest("POST", "/admin/explain", strings.NewReader(body))
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		admin.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	body := `{"app":"portal","user":"alice","method":"GET","target":"/hr/employees/5/salary?x=1"}`
	for _, auth := range []string{"", "Bearer wrong"} {
		if code, _ := post(body, auth); code != 401 {
			t.Errorf("with %q: %d, want 401", auth, code)
		}
	}
	code, text := post(body, "Bearer "+token)
	if code != 200 {
		t.Fatalf("explain: %d %s", code, text)
	}
	var e policy.Explanation
	if err := json.Unmarshal([]byte(text), &e); err != nil {
		t.Fatal(err)
	}
	// alice is a manager of portal (GET,POST,PUT /**): allowed, where the
	// app's default role (reader) is denied the salary path.
	if e.Decision != "allow" || e.Role != "manager" || e.Grant != "test.hcl:3,1" || e.Path != "/hr/employees/5/salary" || e.ForwardedPath != "/api/employees/5/salary" {
		t.Errorf("alice: %s", text)
	}
	if strings.Contains(text, "s3cr3t") || len(e.Headers) != 1 || e.Headers[0].Value != "(secret)" || strings.Contains(text, "null") {
		t.Errorf("headers or nulls: %s", text)
	}
	code, text = post(`{"app":"portal","method":"DELETE","target":"/hr/employees/5/salary"}`, "Bearer "+token)
	if err := json.Unmarshal([]byte(text), &e); err != nil || code != 200 {
		t.Fatalf("%d %s", code, text)
	}
	if e.Decision != "deny" || e.Reason != "no_matching_grant" || e.NearGrant != "test.hcl:1,1" || e.NearReason != "verb_not_granted" {
		t.Errorf("reader DELETE: %s", text)
	}
	for _, bad := range []string{`{"app":"nope","method":"GET","target":"/hr"}`, `{"method":"GET"}`, `{"app":"portal","method":"GET","target":"/hr","extra":1}`, `not json`} {
		if code, text := post(bad, "Bearer "+token); code != 400 || !strings.Contains(text, `"error"`) {
			t.Errorf("%s: %d %s, want 400 with an error", bad, code, text)
		}
	}
}

// A refusal by the grants names the grant that came closest in the
// access log, through the real handler.
func TestAccessLog_NearMiss(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	for _, c := range []struct{ method, path, reason, grant, near, nearReason string }{
		{"DELETE", "/hr/employees/5", "no_matching_grant", "", "test.hcl:1,1", "verb_not_granted"},
		{"GET", "/hr/employees/5/salary", "grant_denied", "test.hcl:2,1", "test.hcl:1,1", "overridden_by_deny"},
		{"GET", "/hr/payroll", "no_matching_grant", "", "", ""},
	} {
		req, _ := http.NewRequest(c.method, p.URL+c.path, nil)
		req.Header.Set("X-API-Key", testKey)
		res, _ := do(t, p.Client(), req)
		if res.StatusCode != 403 {
			t.Errorf("%s %s: %d, want 403", c.method, c.path, res.StatusCode)
		}
	}
	recs := p.log.records(t)
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	for i, want := range [][3]string{{"", "test.hcl:1,1", "verb_not_granted"}, {"test.hcl:2,1", "test.hcl:1,1", "overridden_by_deny"}, {"", "", ""}} {
		g, _ := recs[i]["grant"].(string)
		n, _ := recs[i]["near_grant"].(string)
		r, _ := recs[i]["near_reason"].(string)
		if g != want[0] || n != want[1] || r != want[2] {
			t.Errorf("record %d: grant %q near_grant %q near_reason %q, want %q", i, g, n, r, want)
		}
		if _, has := recs[i]["near_grant"]; want[1] == "" && has {
			t.Errorf("record %d has near_grant without a near miss: %v", i, recs[i])
		}
	}
}

// Dry-run grants change nothing a client or the upstream sees; the access
// log says what they would have changed, through the real handler.
func TestAccessLog_DryRun(t *testing.T) {
	up := newUpstream(t, nil)
	spec := testSpec(t, up.URL)
	spec.Roles[0].Grants = append(spec.Roles[0].Grants,
		policy.GrantSpec{Deny: true, Upstream: "hr", Paths: mustGlobs(t, "/employees/*/address"), Verbs: policy.VerbGET, Origin: "test.hcl:4,1", DryRun: true},
		policy.GrantSpec{Upstream: "hr", Paths: mustGlobs(t, "/employees"), Verbs: policy.VerbPOST, Origin: "test.hcl:5,1", DryRun: true},
	)
	p := newTestProxy(t, spec)
	for _, c := range []struct {
		method, path string
		status       int
		dryRun, dry  string
	}{
		{"GET", "/hr/employees/5/address", 200, "would_deny", "test.hcl:4,1"},
		{"POST", "/hr/employees", 403, "would_allow", "test.hcl:5,1"},
		{"GET", "/hr/employees/5", 200, "", ""},
	} {
		before := len(up.requests())
		req, _ := http.NewRequest(c.method, p.URL+c.path, nil)
		req.Header.Set("X-API-Key", testKey)
		res, _ := do(t, p.Client(), req)
		if res.StatusCode != c.status {
			t.Errorf("%s %s: %d, want %d (dry-run grants are not enforced)", c.method, c.path, res.StatusCode, c.status)
		}
		if reached := len(up.requests()) > before; reached != (c.status == 200) {
			t.Errorf("%s %s: reached the upstream %v", c.method, c.path, reached)
		}
		recs := p.log.records(t)
		r := recs[len(recs)-1]
		d, _ := r["dry_run"].(string)
		g, _ := r["dry_run_grant"].(string)
		if d != c.dryRun || g != c.dry {
			t.Errorf("%s %s: logged dry_run %q by %q, want %q by %q", c.method, c.path, d, g, c.dryRun, c.dry)
		}
	}
}
