package proxy

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestIsOverrideParam(t *testing.T) {
	tests := map[string]bool{
		"_method": true, "_METHOD": true, ".method": true, " method": false, " _method": true,
		"[method": true, "_method[]": true, "_method[x]": true,
		"method": false, "_methods": false, "x_method": false, "_metho": false, "": false, "_method]": false,
	}
	for name, want := range tests {
		if got := isOverrideParam(name); got != want {
			t.Errorf("isOverrideParam(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestOverrideParam(t *testing.T) {
	tests := []struct {
		q, method string
		want      bool
	}{
		{"_method=DELETE", "POST", true},
		{"a=1&_method=delete", "POST", true},
		{"a=1;_method=PUT", "POST", true},
		{"%5Fmethod=PATCH", "POST", true},
		{"_%6Dethod=PATCH", "POST", true},
		{"_method=%44ELETE", "POST", true},
		{".method=DELETE", "POST", true},
		{"_method[]=DELETE", "POST", true},
		{"_method=", "POST", true},
		{"_method", "POST", true},
		{"_method=POST", "POST", false},
		{"_method=post", "POST", false},
		{"_method=+POST+", "POST", false},
		{"method=DELETE", "POST", false},
		{"a=_method", "POST", false},
		{"a=1&b=2", "POST", false},
	}
	for _, tt := range tests {
		if _, got := overrideParam(tt.q, tt.method); got != tt.want {
			t.Errorf("overrideParam(%q, %s) = %v, want %v", tt.q, tt.method, got, tt.want)
		}
	}
	for q, want := range map[string]bool{"": false, "a=1": false, "_METHOD=x": true, "%41": true, "meth": false, "x=methoD": true} {
		if got := mayNameMethod(q); got != want {
			t.Errorf("mayNameMethod(%q) = %v, want %v", q, got, want)
		}
	}
}

func multipartBody(t *testing.T, fields ...string) (string, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for i := 0; i+1 < len(fields); i += 2 {
		if err := mw.WriteField(fields[i], fields[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String(), mw.FormDataContentType()
}

// overridePost is a POST to base/hr/employees?query with the admin key,
// Content-Type ctype and body ("": none; with chunked, sent without a
// length), and the headers of hdr added under their names as spelled.
func overridePost(t *testing.T, base, query, ctype, body string, chunked bool, hdr map[string]string) *http.Request {
	t.Helper()
	target := base + "/hr/employees"
	if query != "" {
		target += "?" + query
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
		if chunked {
			rd = io.MultiReader(rd) // no length: sent chunked
		}
	}
	r, err := http.NewRequest(http.MethodPost, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-API-Key", testAdminKey)
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		r.Header[k] = append(r.Header[k], v)
	}
	return r
}

// Issue 18: a role granted POST (manager: GET, POST, PUT) cannot DELETE
// through a method override, in a header of any spelling, the query, or a
// form body; the upstream receives nothing.
func TestMethodOverride_Refused(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	mp, mpType := multipartBody(t, "name", "x", "_method", "DELETE")
	type req struct {
		name, query, ctype, body string
		hdr                      map[string]string
		chunked                  bool
		status                   int
		reason                   string
	}
	cases := []req{
		{name: "header", hdr: map[string]string{"X-HTTP-Method-Override": "DELETE"}},
		{name: "header lower", hdr: map[string]string{"x-http-method": "delete"}},
		{name: "header underscores", hdr: map[string]string{"X_METHOD_OVERRIDE": "PATCH"}},
		{name: "header mixed", hdr: map[string]string{"x_Http_Method-OVERRIDE": "DELETE"}},
		{name: "header second value", hdr: map[string]string{"X-Http-Method-Override": "POST", "x-http-method-override": "DELETE"}},
		{name: "query", query: "_method=DELETE"},
		{name: "query encoded", query: "a=1&%5fmethod=delete"},
		{name: "query php dot", query: ".method=DELETE"},
		{name: "query semicolon", query: "a=1;_method=DELETE"},
		{name: "urlencoded", ctype: "application/x-www-form-urlencoded", body: "name=x&_method=DELETE"},
		{name: "urlencoded charset", ctype: "Application/X-WWW-Form-Urlencoded; charset=utf-8", body: "_method=PUT"},
		{name: "urlencoded chunked", ctype: "application/x-www-form-urlencoded", body: "_method=DELETE", chunked: true},
		{name: "no content type", body: "_method=DELETE"},
		{name: "multipart", ctype: mpType, body: mp},
		{name: "multipart chunked", ctype: mpType, body: mp, chunked: true},
		{name: "multipart no boundary", ctype: "multipart/form-data", body: mp, status: 400, reason: reasonFormUnreadable},
		{name: "multipart garbage", ctype: mpType, body: "not multipart", status: 400, reason: reasonFormUnreadable},
		{name: "form gzip", ctype: "application/x-www-form-urlencoded", body: "x", hdr: map[string]string{"Content-Encoding": "gzip"}, status: 415, reason: reasonFormUnreadable},
		{name: "form too large", ctype: "application/x-www-form-urlencoded", body: strings.Repeat("a", 2000), status: 413, reason: reasonBodyTooLarge},
		{name: "form too large chunked", ctype: "application/x-www-form-urlencoded", body: strings.Repeat("a", 2000), chunked: true, status: 413, reason: reasonBodyTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(up.requests())
			r := overridePost(t, p.URL, c.query, c.ctype, c.body, c.chunked, c.hdr)
			res, text := do(t, p.Client(), r)
			status, reason := c.status, c.reason
			if status == 0 {
				status, reason = http.StatusBadRequest, reasonMethodOverride
			}
			if res.StatusCode != status {
				t.Fatalf("got %d %s, want %d", res.StatusCode, text, status)
			}
			if n := len(up.requests()); n != before {
				t.Errorf("upstream received %d requests, want none", n-before)
			}
			recs := p.log.records(t)
			if got := recs[len(recs)-1]["reason"]; got != reason {
				t.Errorf("logged reason %v, want %s", got, reason)
			}
		})
	}
}

// An override naming the request's own method is harmless: the request
// passes, the header is removed, and a form body reaches the upstream
// byte for byte with a correct Content-Length.
func TestMethodOverride_SameMethodPasses(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	mp, mpType := multipartBody(t, "name", "x", "_method", "POST", "file", strings.Repeat("z", 300))
	cases := []struct {
		name, query, ctype, body string
		hdr                      map[string]string
		chunked                  bool
	}{
		{name: "header", hdr: map[string]string{"X-HTTP-Method-Override": "post", "x_method_override": " POST "}},
		{name: "query", query: "_method=POST&a=1"},
		{name: "query without override", query: "a=%41&methods=1"},
		{name: "urlencoded", ctype: "application/x-www-form-urlencoded", body: "_method=POST&a=1"},
		{name: "urlencoded chunked", ctype: "application/x-www-form-urlencoded", body: "a=1&b=2", chunked: true},
		{name: "multipart", ctype: mpType, body: mp},
		{name: "multipart chunked", ctype: mpType, body: mp, chunked: true},
		{name: "json", ctype: "application/json", body: `{"method":"DELETE"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := overridePost(t, p.URL, c.query, c.ctype, c.body, c.chunked, c.hdr)
			res, text := do(t, p.Client(), r)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("got %d %s, want 200", res.StatusCode, text)
			}
			got := up.last(t)
			if got.Method != http.MethodPost || got.Body != c.body {
				t.Errorf("upstream got %s with body %q, want POST with %q", got.Method, got.Body, c.body)
			}
			if c.body != "" {
				if cl := got.Header.Get("Content-Length"); cl != strconv.Itoa(len(c.body)) {
					t.Errorf("upstream Content-Length %q, want %d", cl, len(c.body))
				}
			}
			for k := range got.Header {
				if isOverrideHeader(k) {
					t.Errorf("upstream got override header %s", k)
				}
			}
		})
	}
}
