package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/records"
)

// fieldsSpec gives role "reader" (portal's default) a grant on /hr/records
// without a filter that hides salary and masks ssn.
func fieldsSpec(t testing.TB, upstreamURL string) policy.Spec {
	t.Helper()
	spec := sessionSpec(t, upstreamURL)
	prot, err := records.NewProtection([]records.FieldRule{{Path: "salary"}, {Path: "ssn", Mask: []byte(`"***"`)}})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := policy.NewProtectedRecordPlan("", []string{}, prot)
	if err != nil {
		t.Fatal(err)
	}
	spec.Roles[0].Grants = append([]policy.GrantSpec{{
		Upstream: "hr", Paths: mustGlobs(t, "/records", "/records/*"), Verbs: policy.VerbGET | policy.VerbHEAD | policy.VerbPOST | policy.VerbPUT,
		Fields: prot, Plan: plan, Origin: "fields.hcl:1,1",
	}}, spec.Roles[0].Grants...)
	return spec
}

func TestFields_Responses(t *testing.T) {
	var body, ctype string
	status := 200
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
	p := newTestProxy(t, fieldsSpec(t, up.URL))
	for _, tc := range []struct {
		name, body, ctype string
		status, want      int
		wantBody          string
	}{
		{"array", `[{"id":1,"salary":2,"ssn":"x"},{"id":2}]`, "application/json", 200, 200, `[{"id":1,"ssn":"***"},{"id":2}]`},
		{"single object", `{"id":1,"Salary":2}`, "application/json", 200, 200, `{"id":1}`},
		{"two spellings", `[{"salary":1,"SALARY":2}]`, "application/json", 200, 502, ""},
		{"not json", `<p>salary 5000</p>`, "text/html", 200, 502, ""},
		{"error status not json", `<p>salary 5000</p>`, "text/html", 500, 500, ""},
		{"error status json", `{"error":"x","salary":1}`, "application/json", 404, 404, `{"error":"x"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, ctype, status = tc.body, tc.ctype, tc.status
			res, got := p.get(t, "/hr/records", map[string]string{"X-API-Key": testKey})
			if res.StatusCode != tc.want {
				t.Fatalf("status %d, want %d (%s)", res.StatusCode, tc.want, got)
			}
			if strings.Contains(strings.ToLower(got), "salary") {
				t.Errorf("body leaks the salary: %s", got)
			}
			if tc.wantBody != "" && got != tc.wantBody {
				t.Errorf("body %s, want %s", got, tc.wantBody)
			}
		})
	}
}

func TestFields_Writes(t *testing.T) {
	var writes atomic.Int64
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		writes.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":9,"salary":1}`)
	})
	p := newTestProxy(t, fieldsSpec(t, up.URL))
	post := func(body string) int {
		req, _ := http.NewRequest("POST", p.URL+"/hr/records", strings.NewReader(body))
		req.Header.Set("X-API-Key", testKey)
		req.Header.Set("Content-Type", "application/json")
		res, _ := do(t, p.Client(), req)
		return res.StatusCode
	}
	for _, b := range []string{`{"salary":1}`, `[{"id":1},{"\u0073alary":1}]`, `{"SSN":"x"}`} {
		if c := post(b); c != 403 || writes.Load() != 0 {
			t.Fatalf("%s: %d (%d writes), want 403 and none", b, c, writes.Load())
		}
	}
	req, _ := http.NewRequest("POST", p.URL+"/hr/records", strings.NewReader(`[{"op":"replace","path":"/salary","value":1}]`))
	req.Header.Set("X-API-Key", testKey)
	req.Header.Set("Content-Type", "application/json-patch+json")
	if res, _ := do(t, p.Client(), req); res.StatusCode != 415 || writes.Load() != 0 {
		t.Fatalf("JSON Patch: %d, want 415", res.StatusCode)
	}
	if c := post(`{"salary":1,"Salary":2}`); c != 403 || writes.Load() != 0 {
		t.Fatalf("twins: %d, want 403", c)
	}
	if c := post(`{"id":1}`); c != 200 || writes.Load() != 1 {
		t.Fatalf("allowed write: %d (%d writes)", c, writes.Load())
	}
	var n int
	for _, r := range p.log.records(t) {
		if r["reason"] == "field_refused_write" && r["status"] == float64(403) {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d access records with field_refused_write, want 4", n)
	}
}

// A document far larger than the first chunk streams through field
// protection with every record edited.
func TestFields_Streams(t *testing.T) {
	var b strings.Builder
	b.WriteString("[")
	for i := range 5000 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"id":` + strconv.Itoa(i) + `,"salary":` + strconv.Itoa(1000+i) + `,"ssn":"` + strconv.Itoa(i) + `-00","name":"employee"}`)
	}
	b.WriteString("]")
	body := b.String()
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	})
	p := newTestProxy(t, fieldsSpec(t, up.URL))
	res, got := p.get(t, "/hr/records", map[string]string{"X-API-Key": testKey})
	var recs []map[string]any
	if err := json.Unmarshal([]byte(got), &recs); res.StatusCode != 200 || err != nil || len(recs) != 5000 {
		t.Fatalf("%d, %d records, %v", res.StatusCode, len(recs), err)
	}
	for i, r := range recs {
		if _, ok := r["salary"]; ok || r["ssn"] != "***" || r["id"] != float64(i) || r["name"] != "employee" {
			t.Fatalf("record %d: %v", i, r)
		}
	}
}
