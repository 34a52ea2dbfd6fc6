package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// The lookups of an ldap block, end to end: the real binary, a real slapd
// and a loopback upstream returning records of three departments
// (filterUpstream: sales, ops, hr in turn). The filter reads
// lookup.department, which only the ldap block declares.
const ldapLookupsConfig = `
server {
  listen       = "127.0.0.1:0"
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
	p := startWithConfig(t, t.TempDir(), fmt.Sprintf(ldapLookupsConfig, up.URL, hashKey(key),
		d.URL, d.ServiceDN, d.ServicePassword, d.PeopleDN, d.GroupsDN))
	t.Cleanup(func() { _ = p.stop(t) })
	base := "http://" + p.public
	client := &http.Client{Timeout: 10 * time.Second}

	call := func(method, path, token string, body any) (int, []byte) {
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
	// departments returns the department of every record the caller sees
	// of 30 (10 of each department).
	departments := func(tok string) []string {
		t.Helper()
		code, b := call("GET", "/hr/records?n=30", tok, nil)
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
	exactly := func(who string, got []string, dept string, n int) {
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
