package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestForward_PathPrefixAndIdentityHeaders(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	res, body := p.get(t, "/hr/employees/5?x=1&y=%20", map[string]string{"X-API-Key": testKey})
	if res.StatusCode != 200 || body != "upstream ok" {
		t.Fatalf("got %d %q, want 200 upstream ok", res.StatusCode, body)
	}
	got := up.last(t)
	if got.RequestURI != "/api/employees/5?x=1&y=%20" {
		t.Errorf("upstream got %q, want /api/employees/5?x=1&y=%%20", got.RequestURI)
	}
	if v := got.Header.Get("X-Api-Key"); v != "" {
		t.Errorf("API key reached the upstream: %q", v)
	}
	for k, want := range map[string]string{"X-Gatehouse-App": "portal", "X-Gatehouse-Role": "reader"} {
		if v := got.Header.Get(k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
	if got.Header.Get("X-Request-Id") == "" || got.Header.Get("X-Request-Id") != res.Header.Get("X-Request-Id") {
		t.Errorf("request id: upstream %q, client %q", got.Header.Get("X-Request-Id"), res.Header.Get("X-Request-Id"))
	}
	if want := strings.TrimPrefix(up.URL, "http://"); got.Host != want {
		t.Errorf("Host = %q, want the upstream's %q", got.Host, want)
	}
}

func TestForward_CanonicalPathIsWhatUpstreamGets(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	cases := map[string]string{
		"/hr/employees/%61da":       "/api/employees/ada",
		"/hr/employees/caf%c3%a9":   "/api/employees/caf%C3%A9",
		"/hr/employees/a%20b":       "/api/employees/a%20b",
		"/hr/employees/":            "/api/employees/",
		"/hr/employees":             "/api/employees",
		"/hr/employees/x:y@z!$&'()": "/api/employees/x:y@z!$&'()",
	}
	for in, want := range cases {
		status, _ := raw(t, p.Listener.Addr().String(), "GET "+in+" HTTP/1.1\r\nHost: x\r\nX-API-Key: "+testKey+"\r\nConnection: close\r\n\r\n")
		if !strings.Contains(status, " 200 ") {
			t.Errorf("%s: got %q, want 200", in, status)
			continue
		}
		if got := up.last(t).RequestURI; got != want {
			t.Errorf("%s: upstream got %q, want %q", in, got, want)
		}
	}
}

func TestForward_StripsClientIdentityHeadersInEverySpelling(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	// Raw request so that header spellings reach the server untouched.
	req := "GET /hr/employees HTTP/1.1\r\nHost: x\r\n" +
		"X-API-Key: " + testKey + "\r\n" +
		"X-Gatehouse-User: mallory\r\n" +
		"x-gatehouse-role: manager\r\n" +
		"X_Gatehouse_App: backoffice\r\n" +
		"X-GATEHOUSE-ADMIN: true\r\n" +
		"x_gatehouse_user: mallory2\r\n" +
		"X_API_KEY: leaked\r\n" +
		"x_api_key: leaked2\r\n" +
		"Connection: close\r\n\r\n"
	status, _ := raw(t, p.Listener.Addr().String(), req)
	if !strings.Contains(status, " 200 ") {
		t.Fatalf("got %q, want 200", status)
	}
	got := up.last(t)
	for k, v := range got.Header {
		lk := strings.ReplaceAll(strings.ToLower(k), "_", "-")
		switch {
		case lk == "x-gatehouse-app" && v[0] == "portal" && len(v) == 1:
		case lk == "x-gatehouse-role" && v[0] == "reader" && len(v) == 1:
		case strings.HasPrefix(lk, "x-gatehouse-"), lk == "x-api-key":
			t.Errorf("client header reached the upstream: %s: %q", k, v)
		}
	}
	if got.Header.Get("X-Gatehouse-Role") != "reader" {
		t.Errorf("X-Gatehouse-Role = %q, want reader", got.Header.Get("X-Gatehouse-Role"))
	}
}

func TestForward_ConnectionHeaderCannotRemoveProxyHeaders(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	req := "GET /hr/employees HTTP/1.1\r\nHost: x\r\nX-API-Key: " + testKey + "\r\n" +
		"Connection: close, X-Gatehouse-Role, X-Gatehouse-App, X-Forwarded-For, X-Request-Id\r\n\r\n"
	status, _ := raw(t, p.Listener.Addr().String(), req)
	if !strings.Contains(status, " 200 ") {
		t.Fatalf("got %q, want 200", status)
	}
	got := up.last(t)
	for k, want := range map[string]string{"X-Gatehouse-Role": "reader", "X-Gatehouse-App": "portal", "X-Forwarded-For": "127.0.0.1"} {
		if v := got.Header.Get(k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
	if got.Header.Get("X-Request-Id") == "" {
		t.Error("X-Request-Id was removed by the client's Connection header")
	}
}

func TestForward_XForwardedFromRealPeer(t *testing.T) {
	hdr := map[string]string{
		"X-API-Key":         testKey,
		"X-Forwarded-For":   "203.0.113.9",
		"X-Forwarded-Host":  "evil.example",
		"X-Forwarded-Proto": "https",
		"Forwarded":         "for=203.0.113.9",
	}
	t.Run("untrusted peer", func(t *testing.T) {
		up := newUpstream(t, nil)
		p := newTestProxy(t, testSpec(t, up.URL))
		p.get(t, "/hr/employees", hdr)
		got := up.last(t)
		if v := got.Header.Get("X-Forwarded-For"); v != "127.0.0.1" {
			t.Errorf("X-Forwarded-For = %q, want 127.0.0.1 (client value dropped)", v)
		}
		if v := got.Header.Get("X-Forwarded-Proto"); v != "http" {
			t.Errorf("X-Forwarded-Proto = %q, want http", v)
		}
		if v := got.Header.Get("X-Forwarded-Host"); v == "evil.example" {
			t.Errorf("X-Forwarded-Host = %q, client value believed", v)
		}
		if v := got.Header.Get("Forwarded"); v != "" {
			t.Errorf("Forwarded = %q, want removed", v)
		}
		recs := p.log.records(t)
		if c := recs[len(recs)-1]["client"]; c != "127.0.0.1" {
			t.Errorf("logged client = %v, want 127.0.0.1", c)
		}
	})
	t.Run("trusted peer", func(t *testing.T) {
		up := newUpstream(t, nil)
		spec := testSpec(t, up.URL)
		spec.Server.TrustedProxies = []netip.Prefix{mustPrefix(t, "127.0.0.0/8")}
		p := newTestProxy(t, spec)
		p.get(t, "/hr/employees", hdr)
		got := up.last(t)
		if v := got.Header.Get("X-Forwarded-For"); v != "203.0.113.9, 127.0.0.1" {
			t.Errorf("X-Forwarded-For = %q, want the chain with the peer appended", v)
		}
		if v := got.Header.Get("X-Forwarded-Proto"); v != "https" {
			t.Errorf("X-Forwarded-Proto = %q, want https from the trusted proxy", v)
		}
		if v := got.Header.Get("X-Forwarded-Host"); v != "evil.example" {
			t.Errorf("X-Forwarded-Host = %q, want the trusted proxy's", v)
		}
		recs := p.log.records(t)
		if c := recs[len(recs)-1]["client"]; c != "203.0.113.9" {
			t.Errorf("logged client = %v, want 203.0.113.9", c)
		}
	})
}

// gatehouse's own headers travel beside the client's (fieldsTransport)
// and are written after them. Whatever the number of client headers, on
// either side of a small Go map's eight entries, the upstream gets every
// client header, each of gatehouse's exactly once (replacing the client's
// spoofs, in any spelling), and nothing else.
func TestForward_EveryHeaderArrivesWhateverTheirNumber(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	cases := []struct {
		method, path, key, app, role string
	}{
		{"GET", "/hr/employees", testKey, "portal", "reader"},            // upstream.HTTP1Transport's fast path
		{"GET", "/pub/x", testKey, "", ""},                               // public: no identity
		{"POST", "/hr/employees", testAdminKey, "backoffice", "manager"}, // a body: http.Transport
	}
	for _, c := range cases {
		for n := range 12 {
			var body io.Reader
			if c.method == "POST" {
				body = strings.NewReader("hello")
			}
			req, err := http.NewRequest(c.method, p.URL+c.path, body)
			if err != nil {
				t.Fatal(err)
			}
			hdr := map[string]string{"X-API-Key": c.key, "X-Gatehouse-User": "mallory", "X-Request-Id": "spoofed",
				"X_Request_Id": "spoofed", "X_Forwarded_For": "203.0.113.9", "X_Real_IP": "203.0.113.9"}
			for i := range n {
				hdr[fmt.Sprintf("X-Client-%d", i)] = fmt.Sprintf("value %d", i)
			}
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			res, _ := do(t, p.Client(), req)
			if res.StatusCode != 200 {
				t.Fatalf("%s %s with %d client headers: got %d, want 200", c.method, c.path, n, res.StatusCode)
			}
			got := up.last(t).Header
			want := map[string]string{
				"X-Forwarded-For":   "127.0.0.1",
				"X-Forwarded-Host":  strings.TrimPrefix(p.URL, "http://"),
				"X-Forwarded-Proto": "http",
				"X-Real-Ip":         "127.0.0.1",
				"X-Request-Id":      res.Header.Get("X-Request-Id"),
				"Accept-Encoding":   "gzip",               // Go's client
				"User-Agent":        "Go-http-client/1.1", // Go's client
			}
			if c.app != "" {
				want["X-Gatehouse-App"], want["X-Gatehouse-Role"] = c.app, c.role
			}
			if body != nil {
				want["Content-Length"] = "5"
			}
			for i := range n {
				want[fmt.Sprintf("X-Client-%d", i)] = fmt.Sprintf("value %d", i)
			}
			for k, v := range want {
				if vv := got[k]; len(vv) != 1 || vv[0] != v {
					t.Errorf("%s %s with %d client headers: upstream got %s: %q, want %q", c.method, c.path, n, k, vv, v)
				}
			}
			for k, vv := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("%s %s with %d client headers: upstream got unexpected %s: %q", c.method, c.path, n, k, vv)
				}
			}
		}
	}
}

func TestForward_PublicRouteNeedsNoKeyAndSetsNoIdentity(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	res, _ := p.get(t, "/pub/anything", map[string]string{"X-Gatehouse-User": "mallory", "X-API-Key": testKey})
	if res.StatusCode != 200 {
		t.Fatalf("got %d, want 200", res.StatusCode)
	}
	got := up.last(t)
	if got.RequestURI != "/anything" {
		t.Errorf("upstream got %q, want /anything", got.RequestURI)
	}
	for _, k := range []string{"X-Gatehouse-User", "X-Gatehouse-App", "X-Api-Key"} {
		if v := got.Header.Get(k); v != "" {
			t.Errorf("%s = %q reached a public upstream", k, v)
		}
	}
}

func TestForward_BodyLimits(t *testing.T) {
	up := newUpstream(t, nil)
	spec := testSpec(t, up.URL)
	p := newTestProxy(t, spec)
	addr := p.Listener.Addr().String()
	big := strings.Repeat("a", 2000) // max_body_bytes is 1024
	status, _ := raw(t, addr, "POST /hr/employees HTTP/1.1\r\nHost: x\r\nX-API-Key: "+testAdminKey+"\r\nContent-Length: 2000\r\nConnection: close\r\n\r\n"+big)
	if !strings.Contains(status, " 413 ") {
		t.Errorf("Content-Length over the limit: got %q, want 413", status)
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("upstream got %d requests, want 0", n)
	}
	chunked := "POST /hr/employees HTTP/1.1\r\nHost: x\r\nX-API-Key: " + testAdminKey + "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n7d0\r\n" + big + "\r\n0\r\n\r\n"
	status, _ = raw(t, addr, chunked)
	if !strings.Contains(status, " 413 ") {
		t.Errorf("chunked body over the limit: got %q, want 413", status)
	}
	status, _ = raw(t, addr, "POST /hr/employees HTTP/1.1\r\nHost: x\r\nX-API-Key: "+testAdminKey+"\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
	if !strings.Contains(status, " 200 ") {
		t.Errorf("small body: got %q, want 200", status)
	}
	if got := up.last(t); got.Body != "hello" || got.Method != http.MethodPost {
		t.Errorf("upstream got %s %q, want POST hello", got.Method, got.Body)
	}
}
