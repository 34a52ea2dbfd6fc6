package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const explainConfig = `server {
  listen = "127.0.0.1:8080"
}

secret_lookups {
  token = "s3cr3t-token"
}

upstream "orders" {
  url     = "http://127.0.0.1:9/v1"
  prefix  = "/orders"
  headers = {
    "Authorization" = "Bearer {lookup.token}"
  }
}

app "shop" {
  api_key_sha256 = "8254c329a92850f6d539dd376f4816ee2764517da5e0235514af433164480d7a"
  default_role   = "reader"
}

role "reader" {
  allow "orders" {
    paths = ["/", "/**"]
    verbs = ["GET", "HEAD"]
  }
  deny "orders" {
    paths = ["/*/payment"]
    verbs = ["GET", "HEAD"]
  }
}
`

func writeExplainConfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gatehouse.hcl")
	if err := os.WriteFile(p, []byte(explainConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runExplain(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = dispatch(append([]string{"explain"}, args...), &o, &e)
	return code, o.String(), e.String()
}

func TestExplain_Text(t *testing.T) {
	cfg := writeExplainConfig(t)
	code, out, errOut := runExplain("--config", cfg, "--app", "shop", "DELETE", "/orders/./7")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// The target is canonicalized as the proxy does: "/./" is refused.
	if !strings.Contains(out, "deny 400 (bad_path)") {
		t.Errorf("dot segment:\n%s", out)
	}
	code, out, _ = runExplain("--config", cfg, "--app", "shop", "DELETE", "/orders/7?x=1")
	for _, want := range []string{
		"request:        DELETE /orders/7",
		"forwarded path /v1/7",
		"app shop",
		"role reader",
		"deny 403 (no_matching_grant)",
		"verb_not_granted: grant at gatehouse.hcl:23,3",
		"allow orders GET,HEAD / /**  -> verb_not_granted",
		"token = (secret)",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
	if strings.Contains(out, "s3cr3t") {
		t.Errorf("secret printed:\n%s", out)
	}
}

func TestExplain_JSON(t *testing.T) {
	cfg := writeExplainConfig(t)
	code, out, errOut := runExplain("--config", cfg, "--app", "shop", "GET", "/orders/7/payment", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var e map[string]any
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if e["decision"] != "deny" || e["reason"] != "grant_denied" || e["grant"] != "gatehouse.hcl:27,3" || e["near_grant"] != "gatehouse.hcl:23,3" || e["near_reason"] != "overridden_by_deny" {
		t.Errorf("JSON: %s", out)
	}
	if strings.Contains(out, "null") || strings.Contains(out, "s3cr3t") {
		t.Errorf("null or secret in JSON: %s", out)
	}
	code, out, _ = runExplain("--config", cfg, "--json", "--app", "shop", "GET", "/orders/7")
	if err := json.Unmarshal([]byte(out), &e); err != nil || code != 0 {
		t.Fatalf("exit %d: %v: %s", code, err, out)
	}
	hs, _ := e["upstream_headers"].([]any)
	if e["decision"] != "allow" || len(hs) != 1 || !strings.Contains(out, `"value": "Bearer (secret)"`) {
		t.Errorf("allowed: %s", out)
	}
}

func TestExplain_ExitCodes(t *testing.T) {
	cfg := writeExplainConfig(t)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-h"}, 0, "Examples:"},
		{[]string{"--config", cfg, "GET"}, 2, "want METHOD TARGET"},
		{[]string{"--config", cfg, "--bogus", "GET", "/"}, 2, "flag provided but not defined"},
		{[]string{"--config", cfg, "--admin", "root", "--user", "ada", "GET", "/"}, 2, "excludes"},
		{[]string{"--config", cfg, "--ldap-groups", "a", "GET", "/"}, 2, "needs --provider"},
		{[]string{"--config", cfg, "--app", "nope", "GET", "/orders"}, 1, `no app "nope"`},
		{[]string{"--config", filepath.Join(t.TempDir(), "missing.hcl"), "GET", "/"}, 1, ""},
		{[]string{"--config", cfg, "GET", "/orders/1"}, 0, "missing_api_key"},
	} {
		code, out, errOut := runExplain(c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.want) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s%s", c.args, code, c.code, c.want, out, errOut)
		}
	}
}

// --lookup: the values an ldap block would capture, shown with the scope
// provider and rendered into the upstream's headers.
func TestExplain_CapturedLookups(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gatehouse.hcl")
	if err := os.WriteFile(p, []byte(`
sessions {
  signing_key = "0123456789abcdef0123456789abcdef0123"
}
upstream "crm" {
  url     = "http://127.0.0.1:9"
  prefix  = "/crm"
  headers = { "X-Department" = "{lookup.department}" }
}
app "portal" {
  api_key_sha256 = "8254c329a92850f6d539dd376f4816ee2764517da5e0235514af433164480d7a"
}
role "staff" {
  allow "crm" {
    paths   = ["/records"]
    verbs   = ["GET"]
    records = "data"
    filter  = "record.department == lookup.department"
  }
}
ldap "corp" {
  url          = "ldaps://127.0.0.1:1"
  user_base    = "ou=people"
  default_role = "staff"
  lookups      = { department = "departmentNumber" }
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runExplain("--config", p, "--app", "portal", "--provider", "corp", "--lookup", "department=sales", "GET", "/crm/records")
	if code != 0 || !strings.Contains(out, "department = sales  (provider)") || !strings.Contains(out, "X-Department: sales") {
		t.Errorf("exit %d:\n%s%s", code, out, errOut)
	}
	// Without the lookup, the header has no value: refused.
	code, out, _ = runExplain("--config", p, "--app", "portal", "--provider", "corp", "GET", "/crm/records")
	if code != 0 || !strings.Contains(out, "header_unresolved") {
		t.Errorf("without the lookup: exit %d:\n%s", code, out)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--lookup", "department=sales", "GET", "/crm/records"}, 2, "--lookup needs --provider"},
		{[]string{"--provider", "corp", "--lookup", "department", "GET", "/crm/records"}, 2, "want NAME=VALUE"},
		{[]string{"--provider", "corp", "--lookup", "region=eu", "GET", "/crm/records"}, 1, `do not declare "region"`},
	} {
		code, out, errOut := runExplain(append([]string{"--config", p, "--app", "portal"}, c.args...)...)
		if code != c.code || !strings.Contains(out+errOut, c.want) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s%s", c.args, code, c.code, c.want, out, errOut)
		}
	}
}

// explain names the fields a request's records would lose, in text and
// JSON.
func TestExplain_Fields(t *testing.T) {
	cfg := strings.Replace(explainConfig, `    paths = ["/", "/**"]
    verbs = ["GET", "HEAD"]
  }`, `    paths       = ["/", "/**"]
    verbs       = ["GET", "HEAD"]
    hide_fields = ["card.number", "cost"]
    mask_fields = { email = "***" }
  }`, 1)
	if cfg == explainConfig {
		t.Fatal("the config did not change")
	}
	p := filepath.Join(t.TempDir(), "gatehouse.hcl")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runExplain("--config", p, "--app", "shop", "GET", "/orders/7")
	if code != 0 || !strings.Contains(out, "hidden fields:") || !strings.Contains(out, "card.number, cost") || !strings.Contains(out, "masked fields:") {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, out, _ = runExplain("--config", p, "--app", "shop", "--json", "GET", "/orders/7")
	var e struct {
		Hidden []string `json:"hidden_fields"`
		Masked []string `json:"masked_fields"`
	}
	if err := json.Unmarshal([]byte(out), &e); code != 0 || err != nil || strings.Join(e.Hidden, ",") != "card.number,cost" || strings.Join(e.Masked, ",") != "email" {
		t.Fatalf("exit %d, %v: %s", code, err, out)
	}
}
