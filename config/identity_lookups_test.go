package config

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

const identityLookupsBase = `
sessions {
  signing_key = "a-signing-key-of-enough-length-0123456789"
}
upstream "hr" {
  url    = "http://127.0.0.1:9"
  prefix = "/hr"
}
app "portal" {
  api_key_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
}
role "staff" {
  allow "hr" {
    paths   = ["/hr/**"]
    verbs   = ["GET"]
    records = "data"
    filter  = "record.department == lookup.department"
  }
}
`

// lookups of ldap and oauth blocks: the maps they compile to, positioned
// diagnostics for each mistake, and their names count as declared for the
// filters' unknown-lookup check.
func TestIdentityLookups(t *testing.T) {
	dir := t.TempDir()
	ldap := func(lookups string) string {
		return identityLookupsBase + `
ldap "corp" {
  url       = "ldap://127.0.0.1:389"
  user_base = "ou=people,dc=example,dc=test"
  default_role = "staff"
` + lookups + `
}
`
	}
	oauth := func(provider, lookups string) string {
		return identityLookupsBase + `
oauth "sso" {
  provider      = "` + provider + `"
  issuer        = "https://sso.example.test"
  client_id     = "gatehouse"
  client_secret = "s"
  redirect_url  = "https://api.example.test/auth/oauth/sso/callback"
  app           = "portal"
  default_role  = "staff"
` + lookups + `
}
`
	}
	for _, tc := range []struct {
		name   string
		src    string
		errs   []string // "summary@line" (1-based, in src)
		ldap   map[string]string
		oauth  map[string]string
		policy []string // the provider's captured lookup names
	}{
		{name: "ldap", src: ldap(`  lookups = { department = "departmentNumber", region = "l", unused = "employeeType" }`),
			ldap: map[string]string{"department": "departmentNumber", "region": "l", "unused": "employeeType"}, policy: []string{"department", "region", "unused"}},
		{name: "oauth", src: oauth("oidc", `  lookups = { department = "dept", tenant = "org_id" }`),
			oauth: map[string]string{"department": "dept", "tenant": "org_id"}, policy: []string{"department", "tenant"}},
		{name: "no lookups anywhere: the filter's lookup is unknown", src: ldap(``), errs: []string{"Unknown lookup@17"}},
		{name: "bad lookup name", src: ldap(`  lookups = { "9dept" = "departmentNumber", department = "departmentNumber" }`), errs: []string{"Invalid name@25"},
			ldap: map[string]string{"department": "departmentNumber"}},
		{name: "empty attribute", src: ldap(`  lookups = { department = "" }`), errs: []string{"Empty value@25", "Unknown lookup@17"}},
		{name: "attribute with options", src: ldap(`  lookups = { department = "departmentNumber;binary" }`), errs: []string{"Invalid lookup source@25", "Unknown lookup@17"}},
		{name: "OID", src: ldap(`  lookups = { department = "2.5.4.7" }`), errs: []string{"Invalid lookup source@25", "Unknown lookup@17"}},
		{name: "password attribute", src: ldap(`  lookups = { department = "userPassword" }`), errs: []string{"Invalid lookup source@25", "Unknown lookup@17"}},
		{name: "not an object", src: ldap(`  lookups = ["departmentNumber"]`), errs: []string{"Incorrect attribute value type@25", "Unknown lookup@17"}},
		{name: "duplicate", src: ldap(`  lookups = { department = "departmentNumber", department = "ou" }`), errs: []string{"Duplicate lookup@25"},
			ldap: map[string]string{"department": "departmentNumber"}},
		{name: "empty claim", src: oauth("oidc", `  lookups = { department = " " }`), errs: []string{"Empty value@29", "Unknown lookup@17"}},
		{name: "claim with a newline", src: oauth("oidc", `  lookups = { department = "a\nb" }`), errs: []string{"Invalid lookup source@29", "Unknown lookup@17"}},
		{name: "github has no claims", src: strings.Replace(oauth("github", `  lookups = { department = "dept" }`), `  issuer        = "https://sso.example.test"`+"\n", "", 1),
			errs: []string{"Setting not used@28"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "gatehouse.hcl")
			if err := os.WriteFile(path, []byte(tc.src), 0o600); err != nil {
				t.Fatal(err)
			}
			snap, rt, _, diags := LoadSnapshot(path)
			var got []string
			for _, d := range diags {
				if d.Severity == hcl.DiagError {
					got = append(got, d.Summary+"@"+strconv.Itoa(d.Subject.Start.Line))
				}
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.errs))
			if !slices.Equal(got, want) {
				t.Fatalf("errors %v, want %v\n%s", got, want, diags)
			}
			if len(tc.errs) > 0 {
				if tc.ldap != nil {
					c, _ := Load(path)
					if !maps.Equal(c.LDAP[0].Spec.Lookups, tc.ldap) {
						t.Errorf("decoded %v, want %v", c.LDAP[0].Spec.Lookups, tc.ldap)
					}
				}
				return
			}
			if !maps.Equal(rt.LDAP["corp"].Lookups, tc.ldap) || !maps.Equal(rt.OAuth["sso"].Lookups, tc.oauth) {
				t.Errorf("settings %v %v", rt.LDAP["corp"].Lookups, rt.OAuth["sso"].Lookups)
			}
			provider := "corp"
			if tc.oauth != nil {
				provider = "sso"
			}
			if got := snap.CapturedLookups(provider); !slices.Equal(got, tc.policy) {
				t.Errorf("captured names %v, want %v", got, tc.policy)
			}
		})
	}
}
