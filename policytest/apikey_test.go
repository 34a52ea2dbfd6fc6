package policytest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/policytest"
)

// gatehouse test judges an app's API keys as the proxy would at the time it
// runs: the first key that has not expired is sent, and an app whose keys
// have all expired is refused with api_key_expired (proxy.ExplainCaller).
func TestRun_ExpiredKeys(t *testing.T) {
	const keyed = `app "portal" {
  api_key "old" {
    sha256    = "1111111111111111111111111111111111111111111111111111111111111111"
    not_after = "2020-01-01T00:00:00Z"
  }
  api_key "new" {
    sha256    = "2222222222222222222222222222222222222222222222222222222222222222"
    not_after = NEW
  }
  default_role = "reader"
}`
	for _, c := range []struct {
		name     string
		newAfter string
		status   int
		reason   string
	}{
		{"one key still valid", `"2999-01-01T00:00:00Z"`, 200, "grant_allowed"},
		{"every key expired", `"2021-01-01T00:00:00Z"`, 401, "api_key_expired"},
	} {
		t.Run(c.name, func(t *testing.T) {
			i := strings.Index(tableConfig, `app "portal" {`)
			j := i + strings.Index(tableConfig[i:], "\n}") + 2
			if i < 0 || j < i {
				t.Fatal("tableConfig has no app portal")
			}
			src := tableConfig[:i] + strings.Replace(keyed, "NEW", c.newAfter, 1) + tableConfig[j:]
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "gatehouse.hcl"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			snap, _, _, diags := config.LoadSnapshot(dir)
			if diags.HasErrors() {
				for _, d := range diags {
					t.Log(d)
				}
				t.FailNow()
			}
			test := &config.Test{Name: c.name,
				Request: config.TestRequest{App: "portal", Method: "GET", Target: "/hr/items"},
				Expect:  config.TestExpect{Status: c.status, Reason: c.reason}}
			r := policytest.Run(snap, test)
			if r.Outcome.Status != c.status || r.Outcome.Reason != c.reason {
				t.Fatalf("got %s, want %d %s", r.Outcome, c.status, c.reason)
			}
		})
	}
}
