package proxy

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/filter"
)

// filterSpec gives role "reader" (portal's default) a filtered grant on
// /hr/records: only records of the caller's department.
func filterSpec(t testing.TB, upstreamURL, records string) policy.Spec {
	t.Helper()
	spec := sessionSpec(t, upstreamURL)
	src := `record.department == lookup.department`
	prog, err := filter.Compile(src)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := policy.NewRecordPlan(records, prog.Fields())
	if err != nil {
		t.Fatal(err)
	}
	spec.Apps[0].Lookups = map[string]any{"department": "sales"}
	spec.Roles[0].Grants = append([]policy.GrantSpec{{
		Upstream: "hr", Paths: mustGlobs(t, "/records", "/records/*"), Verbs: policy.VerbGET | policy.VerbHEAD | policy.VerbPOST | policy.VerbPUT,
		Records: records, Filter: src, Program: prog, Plan: plan, Origin: "filter.hcl:1,1",
	}}, spec.Roles[0].Grants...)
	return spec
}

func employeesJSON(n int) string {
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		dept := []string{"sales", "ops"}[i%2]
		fmt.Fprintf(&b, `{"id":%d,"department":%q,"level":%d}`, i, dept, i%5)
	}
	b.WriteString("]")
	return b.String()
}

func TestRecordFilter_Responses(t *testing.T) {
	var body, ctype, enc string
	var status = 200
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Header().Set("ETag", `"abc"`)
		if enc != "" {
			w.Header().Set("Content-Encoding", enc)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
	p := newTestProxy(t, filterSpec(t, up.URL, ""))
	gz := func(s string) string {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write([]byte(s))
		_ = zw.Close()
		return b.String()
	}
	cases := []struct {
		name             string
		body, ctype, enc string
		status           int
		wantStatus       int
		wantBody         string
	}{
		{"array", `[{"id":1,"department":"sales"},{"id":2,"department":"ops"},{"id":3,"department":"sales"}]`, "application/json", "", 200, 200,
			`[{"id":1,"department":"sales"},{"id":3,"department":"sales"}]`},
		{"missing field hides", `[{"id":1},{"id":2,"department":"sales"}]`, "application/json; charset=utf-8", "", 200, 200, `[{"id":2,"department":"sales"}]`},
		{"single object kept", `{"id":1,"department":"sales"}`, "application/json", "", 200, 200, `{"id":1,"department":"sales"}`},
		{"single object hidden", `{"id":2,"department":"ops"}`, "application/json", "", 200, 404, ""},
		{"gzip decoded", gz(`[{"department":"ops"},{"department":"sales"}]`), "application/json", "gzip", 200, 200, `[{"department":"sales"}]`},
		{"vendor json", `[{"department":"ops"}]`, "application/vnd.api+json", "", 200, 200, `[]`},
		{"not json", `<html>secret</html>`, "text/html", "", 200, 502, ""},
		{"no content type", `[{"department":"ops"}]`, "", "", 200, 502, ""},
		{"brotli", `xx`, "application/json", "br", 200, 502, ""},
		{"truncated", `[{"department":"sales"},{"depart`, "application/json", "", 200, 502, ""},
		{"duplicate keys", `[{"department":"ops","department":"sales"}]`, "application/json", "", 200, 502, ""},
		{"case variant of a read field", `[{"department":"ops","Department":"sales"}]`, "application/json", "", 200, 502, ""},
		{"record not an object", `[1,2]`, "application/json", "", 200, 502, ""},
		{"error responses pass", `{"error":"nope"}`, "application/json", "", 404, 404, `{"error":"nope"}`},
		{"partial content", `[]`, "application/json", "", 206, 502, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, ctype, enc, status = tc.body, tc.ctype, tc.enc, tc.status
			res, got := p.get(t, "/hr/records", map[string]string{"X-API-Key": testKey, "Range": "bytes=0-10", "Accept-Encoding": "gzip"})
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d (%s)", res.StatusCode, tc.wantStatus, got)
			}
			if tc.wantStatus == 502 || tc.wantStatus == 404 {
				if strings.Contains(got, "department") || strings.Contains(got, "secret") {
					t.Errorf("502 body leaks upstream bytes: %s", got)
				}
				return
			}
			if got != tc.wantBody {
				t.Errorf("body %s, want %s", got, tc.wantBody)
			}
			if tc.wantStatus == 200 && (res.Header.Get("Content-Length") != "" && res.ContentLength != int64(len(got)) || res.Header.Get("Etag") != "") {
				t.Errorf("unfiltered validators leak: %v", res.Header)
			}
			seen := up.last(t)
			if seen.Header.Get("Range") != "" || seen.Header.Get("Accept-Encoding") != "identity" {
				t.Errorf("upstream got Range %q, Accept-Encoding %q", seen.Header.Get("Range"), seen.Header.Get("Accept-Encoding"))
			}
		})
	}
	// The access log counts removed records.
	var rec map[string]any
	for _, r := range p.log.records(t) {
		if r["path"] == "/hr/records" && r["status"] == float64(200) {
			rec = r
			break
		}
	}
	if rec == nil || rec["records"] != float64(3) || rec["records_removed"] != float64(1) {
		t.Errorf("access record %v lacks records=3 records_removed=1", rec)
	}
}

// A large document is streamed; an error after the first chunk cuts the
// connection instead of completing a response.
func TestRecordFilter_StreamsAndCutsOnLateErrors(t *testing.T) {
	big := employeesJSON(16000) // 8000 kept: about 340 KB of output, well past firstChunk
	var body string
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	})
	p := newTestProxy(t, filterSpec(t, up.URL, ""))
	body = big
	res, got := p.get(t, "/hr/records", map[string]string{"X-API-Key": testKey})
	var recs []map[string]any
	if err := json.Unmarshal([]byte(got), &recs); res.StatusCode != 200 || err != nil || len(recs) != 8000 {
		t.Fatalf("big: %d, %d records, %v", res.StatusCode, len(recs), err)
	}
	for _, r := range recs {
		if r["department"] != "sales" {
			t.Fatalf("record %v leaked", r)
		}
	}
	body = big[:len(big)-10] // truncated far past the first chunk
	req, _ := http.NewRequest("GET", p.URL+"/hr/records", nil)
	req.Header.Set("X-API-Key", testKey)
	res2, err := p.Client().Do(req)
	if err != nil {
		return // cut before the headers: also fine
	}
	defer res2.Body.Close()
	if _, err := io.ReadAll(res2.Body); err == nil {
		t.Error("a truncated filtered document was delivered as complete")
	}
}

// A filtered output that fits in the first chunk is sent with its length
// (filterBody has all of it before the status goes out); a longer one is
// streamed with chunked encoding. Either way the client gets exactly the
// kept records.
func TestRecordFilter_Framing(t *testing.T) {
	var body string
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	})
	p := newTestProxy(t, filterSpec(t, up.URL, ""))
	for _, tc := range []struct {
		n       int
		chunked bool
	}{{4, false}, {400, false}, {5000, false}, {16000, true}} {
		body = employeesJSON(tc.n)
		req, _ := http.NewRequest("GET", p.URL+"/hr/records", nil)
		req.Header.Set("X-API-Key", testKey)
		res, err := p.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%d records: status %d, %v", tc.n, res.StatusCode, err)
		}
		var recs []map[string]any
		if err := json.Unmarshal(got, &recs); err != nil || len(recs) != tc.n/2 {
			t.Fatalf("%d records: %d kept, %v", tc.n, len(recs), err)
		}
		if tc.chunked != (len(got) > firstChunk) {
			t.Fatalf("%d records: %d bytes kept, firstChunk %d: fix the test", tc.n, len(got), firstChunk)
		}
		chunked := len(res.TransferEncoding) == 1 && res.TransferEncoding[0] == "chunked"
		switch {
		case tc.chunked && (!chunked || res.ContentLength != -1):
			t.Errorf("%d records (%d bytes kept): Transfer-Encoding %v, Content-Length %d; want chunked", tc.n, len(got), res.TransferEncoding, res.ContentLength)
		case !tc.chunked && (chunked || res.ContentLength != int64(len(got))):
			t.Errorf("%d records (%d bytes kept): Transfer-Encoding %v, Content-Length %d; want %d", tc.n, len(got), res.TransferEncoding, res.ContentLength, len(got))
		}
	}
}

func TestRecordFilter_Writes(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"department":"sales","created":true}`)
	})
	p := newTestProxy(t, filterSpec(t, up.URL, ""))
	post := func(method, ctype, enc, body string) int {
		req, _ := http.NewRequest(method, p.URL+"/hr/records", strings.NewReader(body))
		req.Header.Set("X-API-Key", testKey)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if enc != "" {
			req.Header.Set("Content-Encoding", enc)
		}
		res, _ := do(t, p.Client(), req)
		return res.StatusCode
	}
	cases := []struct {
		name, method, ctype, enc, body string
		want                           int
		reaches                        bool
	}{
		{"allowed object", "POST", "application/json", "", `{"department":"sales","name":"x"}`, 200, true},
		{"allowed array", "PUT", "application/json", "", `[{"department":"sales"},{"department":"sales"}]`, 200, true},
		{"one refused record", "POST", "application/json", "", `[{"department":"sales"},{"department":"ops"}]`, 403, false},
		{"missing field", "POST", "application/json", "", `{"name":"x"}`, 403, false},
		{"not json", "POST", "text/plain", "", `department=sales`, 415, false},
		{"compressed", "POST", "application/json", "gzip", `xx`, 415, false},
		{"duplicate keys", "POST", "application/json", "", `{"department":"ops","department":"sales"}`, 400, false},
		{"invalid json", "POST", "application/json", "", `{"department":`, 400, false},
		{"array of non-objects", "POST", "application/json", "", `["sales"]`, 400, false},
		// Issue 18 (9): names another decoder merges with a read one.
		{"case variant", "POST", "application/json", "", `{"department":"sales","DEPARTMENT":"ops"}`, 400, false},
		{"NUL in a name", "POST", "application/json", "", `{"department":"sales","department\u0000":"ops"}`, 400, false},
		{"NUL in another name", "POST", "application/json", "", `[{"department":"sales","x\u0000":1}]`, 400, false},
	}
	for _, tc := range cases {
		n := len(up.requests())
		if got := post(tc.method, tc.ctype, tc.enc, tc.body); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
		if reached := len(up.requests()) > n; reached != tc.reaches {
			t.Errorf("%s: reached upstream = %v", tc.name, reached)
		} else if reached && up.last(t).Body != tc.body {
			t.Errorf("%s: upstream got body %q", tc.name, up.last(t).Body)
		}
	}
}

// HEAD on a filtered route tells nothing about the unfiltered document:
// it goes upstream as GET, and the client gets GET's headers (issue 18, 11).
func TestRecordFilter_Head(t *testing.T) {
	const doc = `[{"department":"sales"},{"department":"ops","name":"hidden"}]`
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(doc)))
		w.Header().Set("ETag", `"v1"`)
		_, _ = io.WriteString(w, doc)
	})
	p := newTestProxy(t, filterSpec(t, up.URL, ""))
	req, _ := http.NewRequest("HEAD", p.URL+"/hr/records", nil)
	req.Header.Set("X-API-Key", testKey)
	res, body := do(t, p.Client(), req)
	if res.StatusCode != 200 || body != "" || res.Header.Get("Content-Length") == fmt.Sprint(len(doc)) || res.Header.Get("Etag") != "" {
		t.Errorf("HEAD: %d, body %q, headers %v", res.StatusCode, body, res.Header)
	}
}

// records = "data": the rest of the document is kept byte for byte.
func TestRecordFilter_RecordsPath(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"data":[{"department":"ops"},{"department":"sales","id":7}],"total":2,"next":null}`)
	})
	p := newTestProxy(t, filterSpec(t, up.URL, "data"))
	res, got := p.get(t, "/hr/records", map[string]string{"X-API-Key": testKey})
	if want := `{"data":[{"department":"sales","id":7}],"total":2,"next":null}`; res.StatusCode != 200 || got != want {
		t.Errorf("got %d %s, want %s", res.StatusCode, got, want)
	}
}

// Decisions are reused between records of one response (the filter is
// pure), never between requests: each request sees its own records,
// whatever the previous request on the same plan decided.
func TestRecordFilter_DecisionsPerRequest(t *testing.T) {
	const n = 600
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, employeesJSON(n))
	})
	spec := filterSpec(t, up.URL, "")
	src := `record.department == request.query.d && record.level < 4`
	prog, err := filter.Compile(src)
	if err != nil {
		t.Fatal(err)
	}
	if !prog.Pure() {
		t.Fatal("filter not pure: this test would not reuse decisions")
	}
	plan, err := policy.NewRecordPlan("", prog.Fields())
	if err != nil {
		t.Fatal(err)
	}
	spec.Roles[0].Grants[0].Filter, spec.Roles[0].Grants[0].Program, spec.Roles[0].Grants[0].Plan = src, prog, plan
	p := newTestProxy(t, spec)
	for _, d := range []string{"sales", "ops", "sales", "hr", "ops", "ops", ""} {
		res, got := p.get(t, "/hr/records?d="+d, map[string]string{"X-API-Key": testKey})
		var recs []struct {
			Department string
			Level      int
		}
		if err := json.Unmarshal([]byte(got), &recs); res.StatusCode != 200 || err != nil {
			t.Fatalf("d=%s: %d %v", d, res.StatusCode, err)
		}
		want := 0
		if d == "sales" || d == "ops" {
			want = n / 2 * 4 / 5
		}
		if len(recs) != want {
			t.Errorf("d=%s: %d records, want %d", d, len(recs), want)
		}
		for _, r := range recs {
			if r.Department != d || r.Level >= 4 {
				t.Fatalf("d=%s: got record %+v", d, r)
			}
		}
	}
}
