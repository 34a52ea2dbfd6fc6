package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func loadFieldsConfig(t *testing.T, src string) (*Config, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gatehouse.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, diags := Load(path)
	var s []string
	for _, d := range diags {
		s = append(s, d.Error())
	}
	return c, strings.Join(s, "\n")
}

const fieldsConfigHead = `upstream "hr" {
  url    = "http://127.0.0.1:9002"
  prefix = "/hr"
}
`

func TestFields_Decode(t *testing.T) {
	c, diags := loadFieldsConfig(t, fieldsConfigHead+`
role "sales" {
  allow "hr" {
    paths       = ["/employees"]
    verbs       = ["GET"]
    records     = "data"
    hide_fields = ["salary", "bank.iban"]
    mask_fields = { ssn = "***", "bank.bic" = null, level = 0, rate = 1.5, ok = true }
  }
  allow "hr" {
    paths       = ["/other"]
    verbs       = ["GET"]
    records     = "data"
    hide_fields = ["salary", "bank.iban"]
    mask_fields = { ssn = "***", "bank.bic" = null, level = 0, rate = 1.5, ok = true }
    filter      = "record.level < 3"
  }
  allow "hr" {
    paths       = ["/same"]
    verbs       = ["GET"]
    records     = "data"
    hide_fields = ["salary", "bank.iban"]
    mask_fields = { ssn = "***", "bank.bic" = null, level = 0, rate = 1.5, ok = true }
  }
}
`)
	if diags != "" {
		t.Fatal(diags)
	}
	gs := c.Roles[0].Grants
	g := gs[0]
	if g.Fields == nil || g.Plan == nil || g.Program != nil {
		t.Fatalf("fields %v, plan %v, program %v", g.Fields, g.Plan, g.Program)
	}
	var got []string
	for _, r := range g.Fields.Rules() {
		got = append(got, r.Path+"="+string(r.Mask))
	}
	want := `salary= bank.iban= ssn="***" bank.bic=null level=0 rate=1.5 ok=true`
	if strings.Join(got, " ") != want {
		t.Errorf("rules %s, want %s", strings.Join(got, " "), want)
	}
	if g.Plan.Protection() != g.Fields {
		t.Error("the plan does not carry the grant's fields")
	}
	if gs[1].Plan == g.Plan || gs[2].Plan != g.Plan {
		t.Error("plans are shared by grants with the same records, filter fields and field rules only")
	}
	if _, _, _, d := LoadSnapshot(filepath.Join(filepath.Dir(g.DeclRange.Filename), "gatehouse.hcl")); d.HasErrors() {
		t.Fatal(d)
	}
}

// TestFields_Positions: each diagnostic points at the bad element, with
// its column.
func TestFields_Positions(t *testing.T) {
	for _, tt := range []struct{ grant, want string }{
		{`hide_fields = ["salary", "bank..iban"]`, `gatehouse.hcl:10,30-42: Invalid field path; Field "bank..iban": path "bank..iban" has an empty segment.`},
		{"hide_fields = [\"salary\"]\n    mask_fields = { Salary = \"x\" }", `gatehouse.hcl:11,21-27: Duplicate field; Field "Salary" names the same member as "salary" (first declared at `},
		{"mask_fields = { ssn = [1] }", `gatehouse.hcl:10,27-30: Invalid mask; mask_fields "ssn": got tuple.`},
		{`hide_fields = ["a.b", "A"]`, `gatehouse.hcl:10,27-30: Conflicting fields; Field "A" and field "a.b" (first declared at `},
	} {
		_, diags := loadFieldsConfig(t, fieldsConfigHead+`
role "r" {
  allow "hr" {
    paths       = ["/a"]
    verbs       = ["GET"]
    `+tt.grant+`
  }
}
`)
		if !strings.Contains(diags, tt.want) {
			t.Errorf("diagnostics lack %q:\n%s", tt.want, diags)
		}
	}
}
