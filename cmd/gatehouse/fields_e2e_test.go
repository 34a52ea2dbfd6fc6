package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

const fieldsConfig = `
server {
  listen       = "127.0.0.1:0"
  admin_listen = "127.0.0.1:0"
}

upstream "hr" {
  url    = "%s"
  prefix = "/hr"
}

app "sales_portal" {
  api_key_sha256 = "%s"
  default_role   = "sales"
}

app "manager_portal" {
  api_key_sha256 = "%s"
  default_role   = "managers"
}

role "sales" {
  allow "hr" {
    paths       = ["/employees", "/employees/*"]
    verbs       = ["GET", "POST", "PATCH"]
    records     = "data"
    hide_fields = ["salary", "bank.iban"]
    mask_fields = { ssn = "***" }
  }
}

role "managers" {
  allow "hr" {
    paths   = ["/employees", "/employees/*"]
    verbs   = ["GET", "POST", "PATCH"]
    records = "data"
  }
}
`

// Field protection through the real binary: the same path shows a salary
// to managers and hides it from sales, masks the ssn, and refuses a write
// that sets the salary before it reaches the upstream.
func TestFieldsE2E(t *testing.T) {
	var writes atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodGet {
			writes.Add(1)
			b, _ := io.ReadAll(r.Body)
			_, _ = fmt.Fprintf(w, `{"data":[%s]}`, b)
			return
		}
		_, _ = io.WriteString(w, `{"data":[{"id":1,"name":"Ann","salary":5100,"ssn":"123-45-6789","bank":{"iban":"DE89","bic":"X"}},`+
			`{"id":2,"name":"Bob","Salary":4800,"ssn":null}],"total":2}`)
	}))
	t.Cleanup(up.Close)
	p := startWithConfig(t, t.TempDir(), fmt.Sprintf(fieldsConfig, up.URL, hashKey("sales-key"), hashKey("manager-key")))
	t.Cleanup(func() { _ = p.stop(t) })
	base := "http://" + p.public

	res, body := get(t, base+"/hr/employees", map[string]string{"X-API-Key": "manager-key"})
	if res.StatusCode != 200 || !strings.Contains(body, `"salary":5100`) || !strings.Contains(body, `"ssn":"123-45-6789"`) {
		t.Fatalf("managers: %d %s, want the salary and the ssn", res.StatusCode, body)
	}
	res, body = get(t, base+"/hr/employees", map[string]string{"X-API-Key": "sales-key"})
	want := `{"data":[{"id":1,"name":"Ann","ssn":"***","bank":{"bic":"X"}},{"id":2,"name":"Bob","ssn":"***"}],"total":2}`
	if res.StatusCode != 200 || body != want {
		t.Fatalf("sales: %d %s\nwant %s", res.StatusCode, body, want)
	}

	write := func(key, method, b string) int {
		req, _ := http.NewRequest(method, base+"/hr/employees", strings.NewReader(b))
		req.Header.Set("X-API-Key", key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	for _, b := range []string{`{"name":"Cy","salary":9000}`, `[{"name":"Cy"},{"SALARY":1}]`, `{"ssn":"1"}`, `{"bank":{"IBAN":"x"}}`} {
		if c := write("sales-key", "POST", b); c != 403 {
			t.Errorf("sales POST %s: %d, want 403", b, c)
		}
	}
	if n := writes.Load(); n != 0 {
		t.Fatalf("the upstream received %d refused writes", n)
	}
	p.waitFor(t, "access record of the refused write", func(m map[string]any) bool {
		return m["msg"] == "request" && m["method"] == "POST" && m["status"] == float64(403) && m["reason"] == "field_refused_write"
	})
	if c := write("sales-key", "PATCH", `{"name":"Cy"}`); c != 200 || writes.Load() != 1 {
		t.Errorf("sales PATCH without protected members: %d (%d writes), want 200 and one write", c, writes.Load())
	}
	if c := write("manager-key", "POST", `{"name":"Cy","salary":9000}`); c != 200 || writes.Load() != 2 {
		t.Errorf("managers POST with salary: %d (%d writes), want 200", c, writes.Load())
	}
}
