package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// The lookups of an ldap block, end to end: the real binary, a real slapd
// and a loopback upstream returning records of three departments
// (filterUpstream: sales, ops, hr in turn). The filter reads
// lookup.department, which only the ldap block declares.
const lookupsConfig = `
server {
  listen       = "127.0.0.1:%d"
  admin_listen = "127.0.0.1:0"
}

sessions {
  signing_key = "e2e-signing-key-0123456789abcdef-0123456789"
  ttl         = "10m"
  refresh_ttl = "1h"
}

upstream "hr" {
  url    = %q
  prefix = "/hr"
}

app "portal" {
  api_key_sha256 = %q
}

role "staff" {
  allow "hr" {
    paths   = ["/records"]
    verbs   = ["GET"]
    records = "data"
    filter  = "record.department == lookup.department"
  }
}
%s
`

const ldapLookupsBlock = `
ldap "corp" {
  url           = %q
  bind_dn       = %q
  bind_password = %q
  user_base     = %q
  group_base    = %q
  default_role  = "staff"
  lookups       = { department = "departmentNumber", region = "l" }
}
`

func TestLookupsE2E_LDAPDepartment(t *testing.T) {
	d := testenv.StartSlapd(t, testenv.SlapdOptions{Users: []testenv.SlapdUser{
		{UID: "ann", Password: "annpw", Attrs: [][2]string{{"departmentNumber", "sales"}, {"l", "Hamburg"}}},
		{UID: "olaf", Password: "olafpw", Attrs: [][2]string{{"departmentNumber", "ops"}}},
		{UID: "cy", Password: "cypw"}, // no departmentNumber
		{UID: "ben", Password: "benpw", Attrs: [][2]string{{"departmentNumber", "sales"}, {"departmentNumber", "ops"}}},
		{UID: "lars", Password: "larspw", Attrs: [][2]string{{"departmentNumber", strings.Repeat("s", 300)}}},
	}})
	up := filterUpstream(t)
	const key = "e2e-portal-key"
	p := startWithConfig(t, t.TempDir(), fmt.Sprintf(lookupsConfig, 0, up.URL, hashKey(key), fmt.Sprintf(ldapLookupsBlock,
		d.URL, d.ServiceDN, d.ServicePassword, d.PeopleDN, d.GroupsDN)))
	t.Cleanup(func() { _ = p.stop(t) })
	base := "http://" + p.public
	client := &http.Client{Timeout: 10 * time.Second}

	call := func(method, path, token string, body any) (int, []byte) {
		t.Helper()
		return lookupsCall(t, client, base, key, method, path, token, body)
	}
	sessionToken := func(what string, code int, b []byte) string {
		t.Helper()
		var r struct {
			Token string `json:"session_token"`
		}
		if err := json.Unmarshal(b, &r); code != 200 || err != nil || r.Token == "" {
			t.Fatalf("%s: %d %s", what, code, b)
		}
		return r.Token
	}
	login := func(user, pw string) string {
		t.Helper()
		code, b := call("POST", "/auth/login", "", map[string]string{"username": user, "password": pw, "provider": "corp"})
		return sessionToken("login "+user, code, b)
	}
	departments := func(tok string) []string {
		t.Helper()
		return recordDepartments(t, client, base, key, tok)
	}
	exactly := func(who string, got []string, dept string, n int) {
		t.Helper()
		exactlyDepartment(t, who, got, dept, n)
	}

	ann := login("ann", "annpw")
	exactly("ann (sales)", departments(ann), "sales", 10)
	exactly("olaf (ops)", departments(login("olaf", "olafpw")), "ops", 10)
	// Fail closed: no attribute, several values, a value over the limit:
	// the lookup is absent and the filter hides every record.
	exactly("cy (no departmentNumber)", departments(login("cy", "cypw")), "", 0)
	exactly("ben (two departmentNumbers)", departments(login("ben", "benpw")), "", 0)
	exactly("lars (300-byte departmentNumber)", departments(login("lars", "larspw")), "", 0)
	p.waitFor(t, "the dropped lookup of lars", func(l map[string]any) bool {
		return l["msg"] == "lookup not captured" && l["user"] == "lars" && l["lookup"] == "department" && l["level"] == "WARN"
	})
	p.waitFor(t, "the multi-valued lookup of ben", func(l map[string]any) bool {
		return l["msg"] == "lookup not captured" && l["user"] == "ben" && l["why"] == "several values"
	})
	for _, l := range p.logs() {
		if strings.Contains(fmt.Sprint(l), strings.Repeat("s", 300)) {
			t.Errorf("a log line shows the dropped value: %v", l)
		}
	}

	// A refreshed session carries the lookups of the login.
	code, b := call("POST", "/auth/refresh", ann, nil)
	next := sessionToken("refresh", code, b)
	exactly("ann after refresh", departments(next), "sales", 10)
	// The old token is gone; the new one is as good as the first.
	if code, _ := call("GET", "/hr/records?n=3", ann, nil); code != 401 {
		t.Errorf("refreshed-away token: %d, want 401", code)
	}
	// Without a session: no role, no records.
	if code, _ := call("GET", "/hr/records?n=3", "", nil); code != 403 {
		t.Errorf("API key alone: %d, want 403", code)
	}
}

// lookupsCall sends one request with the app's key and, when token is
// not "", the session token; it returns the status and the body.
func lookupsCall(t *testing.T, client *http.Client, base, key, method, path, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-API-Key", key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// recordDepartments returns the department of every record the caller
// sees of 30 (filterUpstream: 10 of each department).
func recordDepartments(t *testing.T, client *http.Client, base, key, token string) []string {
	t.Helper()
	code, b := lookupsCall(t, client, base, key, "GET", "/hr/records?n=30", token, nil)
	if code != 200 {
		t.Fatalf("GET /hr/records: %d %s", code, b)
	}
	var body struct {
		Data []struct {
			Department string `json:"department"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("response: %v: %s", err, b)
	}
	out := make([]string, len(body.Data))
	for i, r := range body.Data {
		out[i] = r.Department
	}
	return out
}

func exactlyDepartment(t *testing.T, who string, got []string, dept string, n int) {
	t.Helper()
	if len(got) != n {
		t.Errorf("%s sees %d records %v, want %d", who, len(got), got, n)
	}
	for _, g := range got {
		if g != dept {
			t.Errorf("%s sees a record of %q, want only %q", who, g, dept)
		}
	}
}

const oidcLookupsBlock = `
oauth "sso" {
  provider      = "oidc"
  issuer        = %q
  client_id     = %q
  client_secret = %q
  redirect_url  = %q
  app           = "portal"
  default_role  = "staff"
  lookups       = { department = "dept" }
}
`

// The lookups of an oauth block, end to end: the real binary and the test
// IdP; the claim from the ID token, else from userinfo; an unusable claim
// fails closed.
func TestLookupsE2E_OIDCClaim(t *testing.T) {
	port := freePort(t)
	callback := fmt.Sprintf("http://127.0.0.1:%d/auth/oauth/sso/callback", port)
	idp := testidp.New(t, testidp.RedirectURIs(callback))
	up := filterUpstream(t)
	const key = "e2e-portal-key"
	p := startWithConfig(t, t.TempDir(), fmt.Sprintf(lookupsConfig, port, up.URL, hashKey(key),
		fmt.Sprintf(oidcLookupsBlock, idp.Issuer(), idp.ClientID(), idp.ClientSecret(), callback)))
	t.Cleanup(func() { _ = p.stop(t) })
	base := "http://" + p.public
	client := &http.Client{Timeout: 10 * time.Second}

	// login signs in at the IdP as u and returns the session token.
	login := func(u testidp.User) string {
		t.Helper()
		idp.SetUser(u)
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > 5 {
				return fmt.Errorf("too many redirects")
			}
			if strings.HasPrefix(req.URL.String(), base) && !strings.HasPrefix(req.URL.Path, "/auth/") {
				return http.ErrUseLastResponse
			}
			return nil
		}}
		res, err := browser.Get(base + "/auth/oauth/sso/login?next=/")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusFound {
			t.Fatalf("login %s: %d", u.Subject, res.StatusCode)
		}
		u2, _ := url.Parse(base)
		for _, c := range jar.Cookies(u2) {
			if c.Name == "gatehouse_session" {
				return c.Value
			}
		}
		t.Fatalf("login %s: no session cookie", u.Subject)
		return ""
	}
	user := func(sub string, idToken, userinfo map[string]any) testidp.User {
		return testidp.User{Subject: sub, Email: sub + "@example.test", EmailVerified: true, IDTokenClaims: idToken, UserinfoClaims: userinfo}
	}
	exactlyDepartment(t, "u-sales (ID token)", recordDepartments(t, client, base, key,
		login(user("u-sales", map[string]any{"dept": "sales"}, map[string]any{"dept": "ops"}))), "sales", 10)
	exactlyDepartment(t, "u-ops (userinfo)", recordDepartments(t, client, base, key,
		login(user("u-ops", nil, map[string]any{"dept": "ops"}))), "ops", 10)
	exactlyDepartment(t, "u-none", recordDepartments(t, client, base, key,
		login(user("u-none", nil, nil))), "", 0)
	exactlyDepartment(t, "u-list (array claim)", recordDepartments(t, client, base, key,
		login(user("u-list", map[string]any{"dept": []string{"sales"}}, nil))), "", 0)
	p.waitFor(t, "the refused array claim", func(l map[string]any) bool {
		return l["msg"] == "lookup not captured" && l["user"] == "u-list" && l["lookup"] == "department"
	})
}
