package policytest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/policytest"
)

const fieldsTestConfig = `
upstream "hr" {
  url    = "http://127.0.0.1:9002"
  prefix = "/hr"
}
app "portal" {
  api_key_sha256 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
  default_role   = "sales"
}
role "sales" {
  allow "hr" {
    paths       = ["/employees"]
    verbs       = ["GET", "POST"]
    hide_fields = ["salary"]
    mask_fields = { ssn = "***" }
  }
}
`

// Field protection in gatehouse test: the outcome names the fields, a
// write that sets one is refused as the proxy refuses it, and
// hidden_fields and masked_fields expectations are compared.
func TestRun_Fields(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gatehouse.hcl"), []byte(fieldsTestConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	snap, _, _, diags := config.LoadSnapshot(dir)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	get := config.TestRequest{App: "portal", Method: "GET", Target: "/hr/employees"}
	r := policytest.Run(snap, &config.Test{Request: get, Expect: config.TestExpect{Status: 200, HiddenFields: []string{"salary"}, MaskedFields: []string{"ssn"}}})
	if !r.Passed() || strings.Join(r.Outcome.HiddenFields, ",") != "salary" || strings.Join(r.Outcome.MaskedFields, ",") != "ssn" {
		t.Errorf("GET: %v %v %v", r.Failures, r.Outcome.HiddenFields, r.Outcome.MaskedFields)
	}
	if s := r.Outcome.String(); !strings.HasSuffix(s, "; hidden fields: salary; masked fields: ssn") {
		t.Errorf("outcome %q does not name the fields", s)
	}
	r = policytest.Run(snap, &config.Test{Request: get, Expect: config.TestExpect{Status: 200, HiddenFields: []string{}, MaskedFields: []string{"ssn", "x"}}})
	if want := "hidden_fields [salary], want []; masked_fields [ssn], want [ssn, x]"; strings.Join(r.Failures, "; ") != want {
		t.Errorf("failures %q, want %q", r.Failures, want)
	}
	r = policytest.Run(snap, &config.Test{Request: get, Expect: config.TestExpect{Status: 200, Response: []byte(`[{"id":1,"salary":2}]`), Records: []int{0}, HasRecords: true}})
	if !r.Passed() {
		t.Errorf("records of a response through fields only: %v", r.Failures)
	}
	patch := config.TestRequest{App: "portal", Method: "POST", Target: "/hr/employees", Headers: map[string]string{"Content-Type": "application/json-patch+json"}, Body: []byte(`[{"op":"add","path":"/salary","value":1}]`)}
	if r := policytest.Run(snap, &config.Test{Request: patch, Expect: config.TestExpect{Status: 415, Reason: "filter_unsupported_media_type"}}); !r.Passed() {
		t.Errorf("JSON Patch: %v", r.Failures)
	}
	for body, want := range map[string]string{`{"name":"x","SALARY":1}`: "field_refused_write", `{"ssn":"1"}`: "field_refused_write", `{"name":"x"}`: "grant_allowed"} {
		post := config.TestRequest{App: "portal", Method: "POST", Target: "/hr/employees", Headers: map[string]string{"Content-Type": "application/json"}, Body: []byte(body)}
		if r := policytest.Run(snap, &config.Test{Request: post, Expect: config.TestExpect{Reason: want}}); !r.Passed() {
			t.Errorf("POST %s: %v", body, r.Failures)
		}
	}
}
