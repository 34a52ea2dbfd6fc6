package proxy

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

const (
	portalOrigin = "https://portal.example.com"
	evilOrigin   = "https://evil.example.net"
)

// corsTestSpec is testSpec plus a public upstream /down that refuses
// connections, and these cors blocks:
//
//	/hr/**           portal + *.apps.example.com; GET, PUT; X-Api-Key,
//	                 Content-Type; exposes X-Request-Id, X-Total; 600 s;
//	                 credentials
//	/hr/internal/**  disabled
//	/pub/cors/**     "*", GET
//	/down/**, /nowhere/**  portal, GET
func corsTestSpec(t testing.TB, upstreamURL string) policy.Spec {
	t.Helper()
	spec := testSpec(t, upstreamURL)
	down, _ := url.Parse("http://127.0.0.1:1")
	spec.Upstreams = append(spec.Upstreams, policy.UpstreamSpec{Name: "down", URL: down, Prefix: "/down", Active: true, Public: true})
	origins := func(ss ...string) []policy.OriginPattern {
		var out []policy.OriginPattern
		for _, s := range ss {
			o, err := policy.ParseOrigin(s)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, o)
		}
		return out
	}
	rule := func(path string, methods policy.Verb, os ...string) policy.CORSSpec {
		return policy.CORSSpec{Path: mustGlobs(t, path)[0], AllowOrigins: origins(os...), Methods: methods, MaxAge: -1, Enabled: true}
	}
	hr := rule("/hr/**", policy.VerbGET|policy.VerbPUT, portalOrigin, "https://*.apps.example.com")
	hr.Headers = []string{"X-Api-Key", "Content-Type"}
	hr.ExposedHeaders = []string{"X-Request-Id", "X-Total"}
	hr.MaxAge = 600
	hr.Credentials = true
	internal := rule("/hr/internal/**", policy.VerbGET, portalOrigin)
	internal.Enabled = false
	spec.CORS = []policy.CORSSpec{
		hr, internal,
		rule("/pub/cors/**", policy.VerbGET, "*"),
		rule("/down/**", policy.VerbGET, portalOrigin),
		rule("/nowhere/**", policy.VerbGET, portalOrigin),
	}
	return spec
}

// corsUpstream sets its own, too permissive, CORS headers on every answer.
func corsUpstream(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "DELETE")
	h.Set("Access-Control-Expose-Headers", "X-Secret")
	h.Set("Vary", "Accept-Encoding")
	h.Set("X-Total", "42")
	_, _ = w.Write([]byte("upstream ok"))
}

// accessControl returns the response's Access-Control-* headers.
func accessControl(h http.Header) http.Header {
	out := http.Header{}
	for k, v := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			out[k] = v
		}
	}
	return out
}

func TestCORS_Preflight(t *testing.T) {
	up := newUpstream(t, corsUpstream)
	p := newTestProxy(t, corsTestSpec(t, up.URL))
	for _, tc := range []struct {
		name, path, origin, method, headers string
		status                              int
		want                                http.Header // exact Access-Control-* headers
	}{
		{"allowed", "/hr/employees/1", portalOrigin, "PUT", "x-api-key, content-type", 204, http.Header{
			"Access-Control-Allow-Origin":      {portalOrigin},
			"Access-Control-Allow-Credentials": {"true"},
			"Access-Control-Allow-Methods":     {"GET, PUT"},
			"Access-Control-Allow-Headers":     {"X-Api-Key, Content-Type"},
			"Access-Control-Max-Age":           {"600"},
		}},
		{"wildcard subdomain", "/hr/employees/1", "https://a.b.apps.example.com", "GET", "", 204, http.Header{
			"Access-Control-Allow-Origin":      {"https://a.b.apps.example.com"},
			"Access-Control-Allow-Credentials": {"true"},
			"Access-Control-Allow-Methods":     {"GET, PUT"},
			"Access-Control-Allow-Headers":     {"X-Api-Key, Content-Type"},
			"Access-Control-Max-Age":           {"600"},
		}},
		// The browser compares the requested headers with Allow-Headers
		// and blocks; gatehouse never lists a header it was not given.
		{"header not allowed", "/hr/employees/1", portalOrigin, "PUT", "x-api-key, x-evil", 204, http.Header{
			"Access-Control-Allow-Origin":      {portalOrigin},
			"Access-Control-Allow-Credentials": {"true"},
			"Access-Control-Allow-Methods":     {"GET, PUT"},
			"Access-Control-Allow-Headers":     {"X-Api-Key, Content-Type"},
			"Access-Control-Max-Age":           {"600"},
		}},
		{"any origin", "/pub/cors/x", evilOrigin, "GET", "", 204, http.Header{
			"Access-Control-Allow-Origin":  {"*"},
			"Access-Control-Allow-Methods": {"GET"},
		}},
		{"origin not allowed", "/hr/employees/1", evilOrigin, "PUT", "x-api-key", 403, http.Header{}},
		{"apex of a wildcard", "/hr/employees/1", "https://apps.example.com", "GET", "", 403, http.Header{}},
		{"look-alike", "/hr/employees/1", "https://portal.example.com.evil.net", "GET", "", 403, http.Header{}},
		{"null origin", "/hr/employees/1", "null", "GET", "", 403, http.Header{}},
		{"method not allowed", "/hr/employees/1", portalOrigin, "DELETE", "", 403, http.Header{}},
		{"method in lower case", "/hr/employees/1", portalOrigin, "put", "", 403, http.Header{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(up.requests())
			req, _ := http.NewRequest(http.MethodOptions, p.URL+tc.path, nil)
			req.Header.Set("Origin", tc.origin)
			req.Header.Set("Access-Control-Request-Method", tc.method)
			if tc.headers != "" {
				req.Header.Set("Access-Control-Request-Headers", tc.headers)
			}
			res, body := do(t, p.Client(), req)
			if res.StatusCode != tc.status {
				t.Fatalf("got %d %s, want %d", res.StatusCode, body, tc.status)
			}
			if got := accessControl(res.Header); !equalHeader(got, tc.want) {
				t.Errorf("Access-Control-* headers:\n got %v\nwant %v", got, tc.want)
			}
			if got := res.Header.Values("Vary"); !slices.Equal(got, []string{"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}) {
				t.Errorf("Vary = %q", got)
			}
			if n := len(up.requests()); n != before {
				t.Errorf("the preflight reached the upstream (%d requests)", n-before)
			}
		})
	}
	recs := p.log.records(t)
	if r := recs[0]; r["status"] != float64(204) || r["reason"] != "cors_preflight" || r["decision"] != "allow" {
		t.Errorf("access record of an answered preflight: %v", r)
	}
	if r := recs[len(recs)-1]; r["status"] != float64(403) || r["reason"] != "cors_preflight_refused" || r["decision"] != "deny" {
		t.Errorf("access record of a refused preflight: %v", r)
	}
}

func equalHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestCORS_NotPreflights checks that OPTIONS requests that are not
// preflights, and preflights off CORS paths, are ordinary requests: they
// need a key and are authorized like any other.
func TestCORS_NotPreflights(t *testing.T) {
	up := newUpstream(t, corsUpstream)
	p := newTestProxy(t, corsTestSpec(t, up.URL))
	for _, tc := range []struct {
		name, path string
		hdr        map[string]string
		status     int
	}{
		{"bare OPTIONS", "/hr/employees/1", nil, 401},
		{"OPTIONS with Origin only", "/hr/employees/1", map[string]string{"Origin": portalOrigin}, 401},
		{"OPTIONS with request method only", "/hr/employees/1", map[string]string{"Access-Control-Request-Method": "PUT"}, 401},
		{"preflight under a disabled rule", "/hr/internal/x", map[string]string{"Origin": portalOrigin, "Access-Control-Request-Method": "GET"}, 401},
		{"preflight off CORS paths", "/pub/plain", map[string]string{"Origin": portalOrigin, "Access-Control-Request-Method": "GET"}, 200},
		{"preflight with a key is still a plain OPTIONS off CORS paths", "/hr2", map[string]string{"Origin": portalOrigin, "Access-Control-Request-Method": "GET", "X-API-Key": testKey}, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodOptions, p.URL+tc.path, nil)
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			res, body := do(t, p.Client(), req)
			if res.StatusCode != tc.status {
				t.Fatalf("got %d %s, want %d", res.StatusCode, body, tc.status)
			}
		})
	}
	// The public upstream answered the OPTIONS off CORS paths itself.
	if last := up.last(t); last.Method != http.MethodOptions || last.RequestURI != "/plain" {
		t.Errorf("upstream got %s %s, want OPTIONS /plain", last.Method, last.RequestURI)
	}
}

// TestCORS_ActualResponses checks the headers of non-preflight responses:
// the upstream's, gatehouse's errors (401, 403, 404, 502), allowed and
// disallowed origins, and paths without a cors rule.
func TestCORS_ActualResponses(t *testing.T) {
	up := newUpstream(t, corsUpstream)
	p := newTestProxy(t, corsTestSpec(t, up.URL))
	allowed := http.Header{
		"Access-Control-Allow-Origin":      {portalOrigin},
		"Access-Control-Allow-Credentials": {"true"},
		"Access-Control-Expose-Headers":    {"X-Request-Id, X-Total"},
	}
	upstreamOwn := http.Header{
		"Access-Control-Allow-Origin":   {"*"},
		"Access-Control-Allow-Methods":  {"DELETE"},
		"Access-Control-Expose-Headers": {"X-Secret"},
	}
	for _, tc := range []struct {
		name, method, path, origin, key string
		status                          int
		want                            http.Header // exact Access-Control-* headers
		vary                            []string    // exact Vary values
	}{
		{"allowed origin", "GET", "/hr/employees/1", portalOrigin, testKey, 200, allowed, []string{"Accept-Encoding", "Origin"}},
		{"allowed origin, PUT refused by grants", "PUT", "/hr/employees/1", portalOrigin, testKey, 403, allowed, []string{"Origin"}},
		{"allowed origin without key", "GET", "/hr/employees/1", portalOrigin, "", 401, allowed, []string{"Origin"}},
		{"allowed origin, bad key", "GET", "/hr/employees/1", portalOrigin, "wrong", 401, allowed, []string{"Origin"}},
		{"allowed origin, denied path", "GET", "/hr/employees/1/salary", portalOrigin, testKey, 403, allowed, []string{"Origin"}},
		{"allowed origin, no route", "GET", "/nowhere/x", portalOrigin, testKey, 404, http.Header{"Access-Control-Allow-Origin": {portalOrigin}}, []string{"Origin"}},
		{"allowed origin, upstream down", "GET", "/down/x", portalOrigin, "", 502, http.Header{"Access-Control-Allow-Origin": {portalOrigin}}, []string{"Origin"}},
		{"method not in methods", "POST", "/hr/employees/1", portalOrigin, testKey, 403, http.Header{}, []string{"Origin"}},
		{"origin not allowed", "GET", "/hr/employees/1", evilOrigin, testKey, 200, http.Header{}, []string{"Accept-Encoding", "Origin"}},
		{"origin not allowed, error", "GET", "/hr/employees/1", evilOrigin, "", 401, http.Header{}, []string{"Origin"}},
		{"no origin", "GET", "/hr/employees/1", "", testKey, 200, http.Header{}, []string{"Accept-Encoding", "Origin"}},
		{"any origin", "GET", "/pub/cors/x", evilOrigin, "", 200, http.Header{"Access-Control-Allow-Origin": {"*"}}, []string{"Accept-Encoding", "Origin"}},
		{"off CORS paths the upstream's pass", "GET", "/pub/plain", portalOrigin, "", 200, upstreamOwn, []string{"Accept-Encoding"}},
		{"disabled rule: the upstream's pass", "GET", "/hr/internal/x", portalOrigin, testAdminKey, 200, upstreamOwn, []string{"Accept-Encoding"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, p.URL+tc.path, nil)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.key != "" {
				req.Header.Set("X-API-Key", tc.key)
			}
			res, body := do(t, p.Client(), req)
			if res.StatusCode != tc.status {
				t.Fatalf("got %d %s, want %d", res.StatusCode, body, tc.status)
			}
			if got := accessControl(res.Header); !equalHeader(got, tc.want) {
				t.Errorf("Access-Control-* headers:\n got %v\nwant %v", got, tc.want)
			}
			if got := res.Header.Values("Vary"); !slices.Equal(got, tc.vary) {
				t.Errorf("Vary = %q, want %q", got, tc.vary)
			}
			if res.Header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
		})
	}
}

// TestCORS_OriginIsNotACredential: an allowed Origin, with or without
// credentials mode, never stands in for an API key or a session.
func TestCORS_OriginIsNotACredential(t *testing.T) {
	up := newUpstream(t, corsUpstream)
	p := newTestProxy(t, corsTestSpec(t, up.URL))
	for _, origin := range []string{portalOrigin, "https://x.apps.example.com"} {
		for _, method := range []string{"GET", "PUT", "OPTIONS"} {
			req, _ := http.NewRequest(method, p.URL+"/hr/employees/1", nil)
			req.Header.Set("Origin", origin)
			req.Header.Set("Cookie", "session=whatever")
			res, _ := do(t, p.Client(), req)
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s from %s without a key: got %d, want 401", method, origin, res.StatusCode)
			}
		}
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("upstream got %d requests, want none", n)
	}
}

// TestCORS_AmbiguousOrigin: several Origin headers are no Origin.
func TestCORS_AmbiguousOrigin(t *testing.T) {
	up := newUpstream(t, corsUpstream)
	p := newTestProxy(t, corsTestSpec(t, up.URL))
	req, _ := http.NewRequest(http.MethodGet, p.URL+"/hr/employees/1", nil)
	req.Header.Add("Origin", portalOrigin)
	req.Header.Add("Origin", portalOrigin)
	req.Header.Set("X-API-Key", testKey)
	res, _ := do(t, p.Client(), req)
	if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("got %d with ACAO %q, want 200 without", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
	}
}

func TestCORSState_ApplyIsIdempotent(t *testing.T) {
	snap, err := policy.New(corsTestSpec(t, "http://127.0.0.1:9"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := policy.ParsePath("/hr/x")
	c := corsState{rule: snap.CORS(p), allow: portalOrigin}
	lower := strings.ToLower(hdrACAllowOrigin) // as a hand-built header map might hold it
	h := http.Header{"Vary": {"Accept-Encoding"}, lower: {"*"}}
	c.apply(h)
	c.apply(h)
	if got := h.Values("Vary"); !slices.Equal(got, []string{"Accept-Encoding", "Origin"}) {
		t.Errorf("Vary = %q", got)
	}
	if _, ok := h[lower]; ok {
		t.Error("non-canonical Access-Control-* key survived")
	}
	if got := h["Access-Control-Allow-Origin"]; !slices.Equal(got, []string{portalOrigin}) {
		t.Errorf("ACAO = %q", got)
	}
	var none *corsState
	none.apply(h) // nil: no change, no panic
}

// TestCORS_AuthEndpoints: /auth/* answered by gatehouse itself can be a
// CORS path: preflight, a successful login and a failed one carry the
// headers.
func TestCORS_AuthEndpoints(t *testing.T) {
	up := newUpstream(t, nil)
	spec := sessionSpec(t, up.URL)
	o, _ := policy.ParseOrigin(portalOrigin)
	spec.CORS = []policy.CORSSpec{{Path: mustGlobs(t, "/auth/**")[0], AllowOrigins: []policy.OriginPattern{o},
		Methods: policy.VerbPOST, Headers: []string{"Content-Type", "X-Api-Key"}, MaxAge: -1, Credentials: true, Enabled: true}}
	p := newTestProxy(t, spec)

	req, _ := http.NewRequest(http.MethodOptions, p.URL+"/auth/login", nil)
	req.Header.Set("Origin", portalOrigin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	res, _ := do(t, p.Client(), req)
	if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != portalOrigin {
		t.Errorf("preflight: got %d, ACAO %q", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
	}
	for _, tc := range []struct {
		pw     string
		status int
	}{{"alicepw", 200}, {"wrong", 401}} {
		body := `{"username":"alice","password":"` + tc.pw + `"}`
		req, _ := http.NewRequest(http.MethodPost, p.URL+"/auth/login", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", testKey)
		req.Header.Set("Origin", portalOrigin)
		res, text := do(t, p.Client(), req)
		if res.StatusCode != tc.status {
			t.Fatalf("login with %q: got %d %s, want %d", tc.pw, res.StatusCode, text, tc.status)
		}
		if res.Header.Get("Access-Control-Allow-Origin") != portalOrigin || res.Header.Get("Access-Control-Allow-Credentials") != "true" || res.Header.Get("Vary") != "Origin" {
			t.Errorf("login with %q: CORS headers %v", tc.pw, res.Header)
		}
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("upstream got %d requests, want none", n)
	}
}
