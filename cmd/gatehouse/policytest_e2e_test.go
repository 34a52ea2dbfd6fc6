package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// setExampleEnv sets the variables the examples read with env() to dummy
// values, as scripts/test.sh does: the tests need them set, not real.
func setExampleEnv(t *testing.T) {
	t.Helper()
	for k, v := range map[string]string{
		"ORDERS_API_URL": "http://127.0.0.1:9000", "SHOP_KEY_SHA256": hashKey("shop"),
		"PORTAL_KEY_SHA256": hashKey("portal"), "GATEHOUSE_SIGNING_KEY": strings.Repeat("k", 48),
		"HR_API_TOKEN": "dummy", "LDAP_URL": "ldaps://127.0.0.1:1", "LDAP_BIND_PASSWORD": "dummy",
		"OIDC_ISSUER": "https://127.0.0.1:1", "OIDC_CLIENT_ID": "dummy", "OIDC_CLIENT_SECRET": "dummy",
		"GITHUB_CLIENT_ID": "dummy", "GITHUB_CLIENT_SECRET": "dummy", "X_CLIENT_ID": "dummy", "X_CLIENT_SECRET": "dummy",
		"GATEHOUSE_PUBLIC_URL": "https://127.0.0.1",
		"GATEHOUSE_LISTEN":     "127.0.0.1:8080", "GATEHOUSE_ADMIN_LISTEN": "127.0.0.1:9901",
	} {
		t.Setenv(k, v)
	}
}

var summaryRE = regexp.MustCompile(`(?m)^(\d+) passed, (\d+) failed$`)

// TestGatehouseTest_Examples: every example ships tests, and they pass.
func TestGatehouseTest_Examples(t *testing.T) {
	setExampleEnv(t)
	dirs, err := filepath.Glob("../../examples/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, dir := range dirs {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			code, stdout, stderr := runCmd(t, ".", "test", "--config", dir)
			m := summaryRE.FindStringSubmatch(stdout)
			if code != 0 || m == nil || m[2] != "0" || m[1] == "0" {
				t.Fatalf("exit %d, want 0 with tests that all pass\n%s%s", code, stdout, stderr)
			}
			// validate and the config loader ignore the test files.
			if code, out, errOut := runCmd(t, ".", "validate", "--config", dir); code != 0 {
				t.Errorf("validate: exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}

// brokenQuickstart copies the quickstart and weakens its deny grant, so
// that /orders/ID/payment is no longer denied by it.
func brokenQuickstart(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"gatehouse.hcl", "gatehouse_test.hcl"} {
		b, err := os.ReadFile(filepath.Join("../../examples/quickstart", name))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if name == "gatehouse.hcl" {
			if !strings.Contains(s, `"/*/payment"`) {
				t.Fatal("the quickstart's deny grant has changed: update this test")
			}
			// Allow the payment path instead of denying it.
			s = strings.Replace(s, `deny "orders" {`, `allow "orders" {`, 1)
		}
		writeFile(t, filepath.Join(dir, name), s)
	}
	return dir
}

// TestGatehouseTest_BrokenGrant: a broken grant fails the test that covers
// it, with a line naming the test, its file:line and the grant.
func TestGatehouseTest_BrokenGrant(t *testing.T) {
	setExampleEnv(t)
	dir := brokenQuickstart(t)
	code, stdout, stderr := runCmd(t, dir, "test", "--config", ".")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	want := `gatehouse_test.hcl:17: "payment details are denied": status 200 (grant_allowed by allow orders GET,HEAD /*/payment (gatehouse.hcl:36,3)), want 403; reason grant_allowed, want grant_denied`
	if !strings.Contains(stdout, want) {
		t.Errorf("stdout lacks %q:\n%s", want, stdout)
	}
	if !strings.Contains(stdout, "\n5 passed, 1 failed\n") {
		t.Errorf("summary: want 5 passed, 1 failed:\n%s", stdout)
	}
	if n := strings.Count(stdout, "\n"); n != 2 {
		t.Errorf("%d lines, want one failure line and the summary:\n%s", n, stdout)
	}

	// -run selects by name; -v reports each test.
	code, stdout, _ = runCmd(t, dir, "test", "--config", ".", "-run", "health|cancel", "-v")
	if code != 0 || !strings.Contains(stdout, `"the health check is public": ok (200 public_route)`) ||
		!strings.HasSuffix(stdout, "\n2 passed, 0 failed\n") || strings.Contains(stdout, "payment") {
		t.Errorf("-run health|cancel -v: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = runCmd(t, dir, "test", "--config", ".", "-run", "payment")
	if code != 1 || !strings.HasSuffix(stdout, "0 passed, 1 failed\n") {
		t.Errorf("-run payment: exit %d\n%s", code, stdout)
	}
	if code, _, stderr := runCmd(t, dir, "test", "--config", ".", "-run", "("); code != 2 || !strings.Contains(stderr, "-run") {
		t.Errorf("bad -run: exit %d, want 2\n%s", code, stderr)
	}
	if code, _, _ := runCmd(t, dir, "test", "--bogus"); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
}

// TestGatehouseTest_Malformed: mistakes in a test file are diagnostics
// with file:line:col, all of them at once, and nothing runs.
func TestGatehouseTest_Malformed(t *testing.T) {
	setExampleEnv(t)
	dir := t.TempDir()
	b, err := os.ReadFile("../../examples/quickstart/gatehouse.hcl")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "gatehouse.hcl"), string(b))
	writeFile(t, filepath.Join(dir, "bad_test.hcl"), `test "unknown app" {
  request {
    app    = "nope"
    method = "get"
    target = "/orders/1"
  }
  expect {
    status = 200
  }
}

test "no expectations" {
  request {
    user   = "zed"
    app    = "shop_frontend"
    method = "GET"
    target = "/orders/1"
  }
}
`)
	code, stdout, stderr := runCmd(t, dir, "test", "--config", ".")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"bad_test.hcl:3:14: error: Unknown app",
		"bad_test.hcl:4:14: error: Invalid method",
		"bad_test.hcl:12:1: error: Missing block",
		"bad_test.hcl:14:14: error: Unknown user",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stdout, "passed") {
		t.Errorf("tests ran despite errors:\n%s", stdout)
	}
	// The configuration itself does not read test files.
	if code, out, errOut := runCmd(t, dir, "validate", "--config", "."); code != 0 {
		t.Errorf("validate reads bad_test.hcl: exit %d\n%s%s", code, out, errOut)
	}
}
