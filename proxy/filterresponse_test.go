package proxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Issue 18 (3): a response of any status through a filtered grant shows no
// record the caller may not see. JSON bodies are filtered like 2xx ones;
// what cannot be filtered becomes gatehouse's generic error of the same
// status; a redirect keeps its Location and loses its body.
func TestRecordFilter_ErrorBodies(t *testing.T) {
	var body, ctype string
	var status int
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if ctype != "" {
			w.Header().Set("Content-Type", ctype)
		}
		w.Header().Set("Location", "/hr/records/2")
		w.Header().Set("Retry-After", "7")
		w.Header().Set("Allow", "GET, HEAD")
		w.Header().Set("X-Upstream-Secret", "s")
		w.WriteHeader(status)
		if body == "<chunked empty>" {
			http.NewResponseController(w).Flush()
			return
		}
		_, _ = io.WriteString(w, body)
	})
	p := newTestProxy(t, filterSpec(t, up.URL, ""))
	const generic = "generic"
	cases := []struct {
		name        string
		status      int
		ctype, body string
		want        string // the body, or generic
	}{
		{"404 JSON array filtered", 404, "application/json", `[{"id":1,"department":"sales"},{"id":2,"department":"ops"}]`, `[{"id":1,"department":"sales"}]`},
		{"500 JSON array filtered", 500, "application/json", `[{"department":"ops"}]`, `[]`},
		{"404 visible single object", 404, "application/problem+json", `{"department":"sales","error":"gone"}`, `{"department":"sales","error":"gone"}`},
		{"404 hidden single object", 404, "application/json", `{"error":"no such record","record":{"department":"ops"}}`, generic},
		{"500 echoing a hidden record", 500, "application/json", `{"id":2,"department":"ops","salary":1}`, generic},
		{"409 not JSON", 409, "text/html", `<p>conflict with {"department":"ops"}</p>`, generic},
		{"400 no content type", 400, "", `{"department":"ops"}`, generic},
		{"405 error object", 405, "application/json", `{"error":"method not allowed"}`, generic},
		{"422 invalid JSON", 422, "application/json", `[{"department":"ops"`, generic},
		{"503 case variant", 503, "application/json", `[{"department":"sales","Department":"ops"}]`, generic},
		{"404 empty JSON body", 404, "application/json", ``, ""},
		{"200 empty chunked body", 200, "application/json", `<chunked empty>`, ""},
		{"201 empty body, no type", 201, "", ``, ""},
		{"204", 204, "application/json", ``, ""},
		{"304", 304, "application/json", ``, ""},
		{"302 with a body", 302, "application/json", `[{"department":"ops"}]`, ""},
		{"301 HTML body", 301, "text/html", `<a href="/x">{"department":"ops"}</a>`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, ctype, body = tc.status, tc.ctype, tc.body
			req, _ := http.NewRequest("GET", p.URL+"/hr/records", nil)
			req.Header.Set("X-API-Key", testKey)
			res, err := noRedirect(p.Client()).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%s)", res.StatusCode, tc.status, got)
			}
			if bytes.Contains(got, []byte("ops")) {
				t.Fatalf("a hidden record reached the client: %s", got)
			}
			switch {
			case tc.want == generic:
				if !isGenericError(res, got) {
					t.Errorf("body %s, want gatehouse's generic error", got)
				}
			case string(got) != tc.want:
				t.Errorf("body %q, want %q", got, tc.want)
			}
			if tc.status/100 == 3 && res.Header.Get("Location") != "/hr/records/2" {
				t.Errorf("redirect lost its Location: %v", res.Header)
			}
			if tc.want == generic {
				// The generic error keeps Retry-After, and Allow on a 405.
				if res.Header.Get("Retry-After") != "7" || res.Header.Get("X-Upstream-Secret") != "" ||
					(res.Header.Get("Allow") != "") != (tc.status == 405) {
					t.Errorf("generic error headers %v", res.Header)
				}
			}
		})
	}
	var reasons []string
	for _, r := range p.log.records(t) {
		if r["path"] == "/hr/records" {
			reasons = append(reasons, fmt.Sprint(r["status"], " ", r["reason"]))
		}
	}
	for _, want := range []string{"404 filter_hidden_record", "409 filter_unfilterable_error_body", "404 grant_allowed", "200 grant_allowed"} {
		if !strings.Contains(strings.Join(reasons, ","), want) {
			t.Errorf("access log %q lacks %q", reasons, want)
		}
	}
	if strings.Contains(strings.Join(reasons, ","), "200 filter_unfilterable_response") {
		t.Errorf("an empty body was logged as unfilterable: %q", reasons)
	}
}

func noRedirect(c *http.Client) *http.Client {
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}

// isGenericError reports whether body is the error body writeError makes
// for res.
func isGenericError(res *http.Response, body []byte) bool {
	var e map[string]any
	if json.Unmarshal(body, &e) != nil {
		return false
	}
	for k := range e {
		switch k {
		case "error", "status", "request_id", "reason", "detail":
		default:
			return false
		}
	}
	return e["status"] == float64(res.StatusCode) && e["request_id"] == res.Header.Get("X-Request-Id") && e["request_id"] != ""
}

// visibleOnly reports whether body, as the client got it through a grant
// whose filter is `record.department == "sales"` with records at path
// (empty or "data"), shows only records of department "sales". An empty
// body or gatehouse's own error shows none.
func visibleOnly(res *http.Response, body []byte, path string) error {
	if len(body) == 0 || isGenericError(res, body) {
		return nil
	}
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("the client got a body that is not JSON: %v", err)
	}
	visible := func(rec any) bool {
		m, ok := rec.(map[string]any)
		return ok && m["department"] == "sales"
	}
	var recs []any
	switch v := doc.(type) {
	case []any:
		if path != "" {
			return fmt.Errorf("an array with records path %q", path)
		}
		recs = v
	case map[string]any:
		if path == "" {
			recs = []any{v}
			break
		}
		a, ok := v[path].([]any)
		if !ok {
			return fmt.Errorf("no records array at %q", path)
		}
		recs = a
	default:
		return fmt.Errorf("a JSON %T", doc)
	}
	for _, r := range recs {
		if !visible(r) {
			return fmt.Errorf("record %v is not visible", r)
		}
	}
	return nil
}

// FuzzFilteredResponse is the property of issue 18 (3): for any status,
// media type, content coding, records path and body an upstream sends
// through a filtered grant, the client gets no record the filter hides.
// HEAD gets the status GET gets (issue 18, 11).
func FuzzFilteredResponse(f *testing.F) {
	type answer struct {
		status      int
		ctype, enc  string
		body        []byte
		declaredLen bool
	}
	var mu sync.Mutex
	var cur answer
	up := newUpstream(f, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		a := cur
		mu.Unlock()
		if a.ctype != "-" {
			w.Header().Set("Content-Type", a.ctype)
		}
		if a.enc != "" {
			w.Header().Set("Content-Encoding", a.enc)
		}
		if a.declaredLen {
			w.Header().Set("Content-Length", fmt.Sprint(len(a.body)))
		}
		w.WriteHeader(a.status)
		_, _ = w.Write(a.body)
	})
	proxies := map[string]*testProxy{}
	for _, path := range []string{"", "data"} {
		proxies[path] = newTestProxy(f, filterSpec(f, up.URL, path))
	}
	ctypes := []string{"application/json", "text/html", "-", "application/problem+json", "application/json; charset=utf-8", "text/plain"}
	encs := []string{"", "gzip", "deflate", "br", "identity"}
	for _, s := range []struct {
		status int
		body   string
	}{
		{200, `[{"department":"sales"},{"department":"ops"}]`},
		{404, `{"department":"ops","name":"hidden"}`},
		{500, `[{"department":"ops"}]`},
		{302, `{"department":"ops"}`},
		{400, `{"data":[{"department":"ops"}],"error":"x"}`},
		{404, `{"error":"not found"}`},
		{204, ``},
		{304, ``},
		{418, `<html>{"department":"ops"}</html>`},
	} {
		for ct := range 2 {
			f.Add(uint16(s.status), uint8(ct), uint8(0), uint8(0), []byte(s.body))
		}
	}
	f.Fuzz(func(t *testing.T, status uint16, ct, enc, flags uint8, body []byte) {
		code := int(status)
		if code < 200 || code > 599 {
			code = 200 + code%400
		}
		a := answer{status: code, ctype: ctypes[int(ct)%len(ctypes)], enc: encs[int(enc)%len(encs)], declaredLen: flags&1 != 0}
		if len(body) > 4096 {
			return
		}
		var b bytes.Buffer
		var zw io.WriteCloser
		switch a.enc {
		case "gzip":
			zw = gzip.NewWriter(&b)
		case "deflate":
			zw = zlib.NewWriter(&b)
		}
		if zw != nil {
			_, _ = zw.Write(body)
			_ = zw.Close()
			body = b.Bytes()
		}
		a.body = body
		mu.Lock()
		cur = a
		mu.Unlock()
		path := ""
		if flags&2 != 0 {
			path = "data"
		}
		p := proxies[path]
		c := noRedirect(p.Client())
		c.Timeout = 10 * time.Second
		statuses := [2]int{}
		for i, method := range []string{"GET", "HEAD"} {
			req, _ := http.NewRequest(method, p.URL+"/hr/records", nil)
			req.Header.Set("X-API-Key", testKey)
			res, err := c.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", method, err)
			}
			got, rerr := io.ReadAll(res.Body)
			res.Body.Close()
			statuses[i] = res.StatusCode
			if rerr != nil {
				continue // cut: the client sees an incomplete body (fine)
			}
			if method == "HEAD" && len(got) != 0 {
				t.Fatalf("HEAD got a body: %q", got)
			}
			if err := visibleOnly(res, got, path); err != nil {
				t.Fatalf("%s, upstream %d %q %q %q: client got %d %q: %v", method, a.status, a.ctype, a.enc, body, res.StatusCode, got, err)
			}
		}
		if statuses[0] != statuses[1] {
			t.Fatalf("GET got %d, HEAD %d (upstream %d %q)", statuses[0], statuses[1], a.status, body)
		}
	})
}

// Issue 18 (11): HEAD on a filtered single object says what GET says: a
// hidden object is 404 for both, and HEAD reaches the upstream as GET.
func TestRecordFilter_HeadHiddenObject(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodHead {
			return // what an upstream does for HEAD: headers only
		}
		if strings.HasSuffix(r.URL.Path, "/2") {
			_, _ = io.WriteString(w, `{"id":2,"department":"ops"}`)
			return
		}
		_, _ = io.WriteString(w, `{"id":1,"department":"sales"}`)
	})
	p := newTestProxy(t, filterSpec(t, up.URL, ""))
	for _, tc := range []struct {
		path string
		want int
	}{{"/hr/records/1", 200}, {"/hr/records/2", 404}} {
		var hdrs [2]http.Header
		for i, m := range []string{"GET", "HEAD"} {
			req, _ := http.NewRequest(m, p.URL+tc.path, nil)
			req.Header.Set("X-API-Key", testKey)
			res, body := do(t, p.Client(), req)
			if res.StatusCode != tc.want {
				t.Errorf("%s %s: %d, want %d", m, tc.path, res.StatusCode, tc.want)
			}
			if m == "HEAD" && body != "" {
				t.Errorf("HEAD got a body %q", body)
			}
			if got := up.last(t).Method; got != "GET" {
				t.Errorf("%s %s reached the upstream as %s, want GET", m, tc.path, got)
			}
			hdrs[i] = res.Header
		}
		for _, h := range hdrs {
			for _, k := range []string{"Date", "X-Request-Id", "Content-Length", "Transfer-Encoding"} {
				delete(h, k)
			}
		}
		if fmt.Sprint(hdrs[0]) != fmt.Sprint(hdrs[1]) {
			t.Errorf("%s: GET headers %v, HEAD headers %v", tc.path, hdrs[0], hdrs[1])
		}
	}
}

// Issue 18 (9): a filtered write with more than one Content-Type or
// Content-Encoding field line (in any spelling) is refused before the
// upstream sees anything.
func TestRecordFilter_WriteHeaderLines(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"department":"sales"}`)
	})
	p := newTestProxy(t, filterSpec(t, up.URL, ""))
	body := `{"department":"sales"}`
	for _, tc := range []struct {
		name string
		hdr  string
		want int
	}{
		{"one Content-Type", "Content-Type: application/json\r\n", 200},
		{"two Content-Types", "Content-Type: application/json\r\nContent-Type: text/plain\r\n", 400},
		{"two equal Content-Types", "Content-Type: application/json\r\ncontent-type: application/json\r\n", 400},
		{"underscore spelling", "Content-Type: application/json\r\nContent_Type: text/plain\r\n", 400},
		{"two Content-Encodings", "Content-Type: application/json\r\nContent-Encoding: identity\r\nContent-Encoding: gzip\r\n", 400},
		{"not UTF-8", "Content-Type: application/json; charset=utf-16\r\n", 415},
		{"UTF-8", "Content-Type: application/json; charset=UTF-8\r\n", 200},
	} {
		n := len(up.requests())
		status, all := raw(t, p.Listener.Addr().String(), "POST /hr/records HTTP/1.1\r\nHost: x\r\nX-API-Key: "+testKey+"\r\n"+tc.hdr+
			fmt.Sprintf("Content-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body))
		if !strings.Contains(status, fmt.Sprint(" ", tc.want, " ")) {
			t.Errorf("%s: %s, want %d\n%s", tc.name, status, tc.want, all)
		}
		if reached := len(up.requests()) > n; reached != (tc.want == 200) {
			t.Errorf("%s: reached upstream = %v", tc.name, reached)
		}
	}
}

// Issue 18 (19): a client that hangs up in the middle of a filtered
// response is a client abort (499 client_closed, not an error), not an
// upstream whose answer could not be filtered: after the response started
// (more than the first chunk of output) and before.
func TestRecordFilter_ClientHangup(t *testing.T) {
	for _, tc := range []struct {
		name    string
		records int // sent before the upstream stalls
		started bool
	}{
		{"mid-response", 16000, true}, // about 340 KB of output: past firstChunk
		{"before the response", 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			defer close(release)
			sent := make(chan struct{}, 1)
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, strings.TrimSuffix(employeesJSON(tc.records), "]"))
				http.NewResponseController(w).Flush()
				sent <- struct{}{}
				select { // a slow stream
				case <-r.Context().Done():
				case <-release:
				case <-time.After(20 * time.Second):
				}
			})
			p := newTestProxy(t, filterSpec(t, up.URL, ""))
			c, err := net.DialTimeout("tcp", p.Listener.Addr().String(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			_, _ = io.WriteString(c, "GET /hr/records HTTP/1.1\r\nHost: x\r\nX-API-Key: "+testKey+"\r\n\r\n")
			if tc.started {
				res, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatal(err)
				}
				if res.StatusCode != 200 {
					t.Fatalf("status %d", res.StatusCode)
				}
				if _, err := io.ReadFull(res.Body, make([]byte, 1000)); err != nil {
					t.Fatal(err)
				}
			} else {
				select {
				case <-sent:
				case <-time.After(10 * time.Second):
					t.Fatal("the upstream got no request")
				}
			}
			c.Close() // hang up
			var rec map[string]any
			for deadline := time.Now().Add(10 * time.Second); rec == nil && time.Now().Before(deadline); {
				for _, r := range p.log.records(t) {
					if r["path"] == "/hr/records" {
						rec = r
					}
				}
				if rec == nil {
					time.Sleep(10 * time.Millisecond) // polling the log, bounded
				}
			}
			if rec == nil {
				t.Fatal("no access record after the client hung up")
			}
			if rec["status"] != float64(499) || rec["reason"] != "client_closed" || rec["level"] != "INFO" {
				t.Errorf("access record: status %v, reason %v, level %v; want 499 client_closed INFO (%v)", rec["status"], rec["reason"], rec["level"], rec)
			}
		})
	}
}

// Upgrades on filtered grants are refused (issue 18, 20: the docs said they
// were allowed): a tunnel would carry records the filter never sees.
func TestRecordFilter_UpgradeRefused(t *testing.T) {
	up := newUpstream(t, echoTunnel("", 0))
	p := newTestProxy(t, filterSpec(t, up.URL, ""))
	status, all := raw(t, p.Listener.Addr().String(), "GET /hr/records HTTP/1.1\r\nHost: x\r\nX-API-Key: "+testKey+
		"\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	if !strings.Contains(status, " 403 ") {
		t.Errorf("upgrade on a filtered grant: %s, want 403\n%s", status, all)
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("the upstream got %d requests", n)
	}
	recs := p.log.records(t)
	if len(recs) != 1 || recs[0]["reason"] != "filter_upgrade_refused" {
		t.Errorf("access log %v, want reason filter_upgrade_refused", recs)
	}
}

// A filtered response longer than the first chunk is streamed without a
// flush per write (see filterOut): the ResponseWriter's Flush is never
// called, and the client still gets every kept record.
func TestRecordFilter_StreamsWithoutFlushes(t *testing.T) {
	doc := employeesJSON(20000) // about 900 KB: several reads of ReverseProxy's buffer
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, doc)
	})
	p := newTestProxy(t, filterSpec(t, up.URL, ""))
	req := httptest.NewRequest("GET", "/hr/records", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("X-API-Key", testKey)
	rec := httptest.NewRecorder()
	p.Config.Handler.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	if rec.Flushed {
		t.Error("the filtered response was flushed")
	}
	var got []struct {
		Department string `json:"department"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("%v: %.200s", err, rec.Body.String())
	}
	if len(got) != 10000 {
		t.Fatalf("%d records, want the 10000 of sales", len(got))
	}
	for _, r := range got {
		if r.Department != "sales" {
			t.Fatalf("a record of %q", r.Department)
		}
	}
}
