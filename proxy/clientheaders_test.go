package proxy

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// frameworkHeaders is one concrete name for every entry of the default list
// of client headers (policy.DefaultClientHeaders), written as documented.
var frameworkHeaders = []string{
	"X-Gatehouse-Role", "X-API-Key",
	"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override",
	"Remote-User", "X-Remote-User", "X-User", "X-User-Id",
	"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups",
	"X-Forwarded-Preferred-Username", "X-Forwarded-Access-Token", "X-Auth-Request-User",
	"X-Original-URL", "X-Original-URI", "X-Rewrite-URL", "X-Forwarded-Uri",
	"X-Forwarded-Prefix", "X-Forwarded-Port", "X-Forwarded-Server", "X-Forwarded-Scheme",
	"X-Forwarded-Ssl", "X-Original-Host", "X-Host", "X-HTTP-Host-Override", "Forwarded",
	"X-Client-IP", "X-Cluster-Client-IP", "True-Client-IP", "CF-Connecting-IP", "Fastly-Client-IP",
	"X-Real-IP",
}

// threeSpellings returns name as documented, lower case, and upper case
// with "_" for "-".
func threeSpellings(name string) []string {
	return []string{name, strings.ToLower(name), strings.ToUpper(strings.ReplaceAll(name, "-", "_"))}
}

// folds reports whether a and b name one header to a framework (any case,
// "_" for "-"), written independently of policy.HeaderFold.
func folds(a, b string) bool {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "-")) }
	return norm(a) == norm(b)
}

// Issue 18: a client sends every default name in three spellings; the
// upstream receives none of them, and gets gatehouse's X-Real-IP.
func TestForward_FrameworkHeadersNeverReachUpstream(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	for _, path := range []string{"/hr/employees", "/pub/x"} {
		req, err := http.NewRequest(http.MethodGet, p.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range frameworkHeaders {
			if name == "X-API-Key" {
				// Two values of one name are refused (401): only spellings
				// net/http does not canonicalize to X-Api-Key.
				req.Header["x_api_key"] = []string{"k1"}
				req.Header["X_API_KEY"] = []string{"k2"}
				continue
			}
			for _, k := range threeSpellings(name) {
				v := "/admin"
				if strings.Contains(strings.ToLower(k), "method") {
					v = "GET" // the request's own method: harmless, but removed
				}
				req.Header[k] = append(req.Header[k], v) // as spelled, not canonicalized
			}
		}
		req.Header.Set("X-API-Key", testKey)
		req.Header.Set("X-Kept", "yes")
		res, body := do(t, p.Client(), req)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: got %d %s, want 200", path, res.StatusCode, body)
		}
		got := up.last(t).Header
		// gatehouse's own X-Gatehouse-Role and X-Real-IP arrive, with its
		// values; nothing the client sent under a listed name does.
		for k, vv := range got {
			for _, name := range frameworkHeaders {
				if folds(k, name) && (len(vv) != 1 || vv[0] == "/admin" || vv[0] == "GET" || vv[0] == "k1" || vv[0] == "k2") {
					t.Errorf("GET %s: upstream got %s: %q, want the client's removed", path, k, vv)
				}
			}
		}
		if v := got["X-Real-Ip"]; len(v) != 1 || v[0] != "127.0.0.1" {
			t.Errorf("GET %s: upstream got X-Real-IP %q, want [127.0.0.1] (the peer)", path, v)
		}
		if v := got.Get("X-Kept"); v != "yes" {
			t.Errorf("GET %s: upstream got X-Kept %q, want yes", path, v)
		}
	}
}

func TestForward_StripHeadersAndKeepHeaders(t *testing.T) {
	up := newUpstream(t, nil)
	spec := testSpec(t, up.URL)
	spec.Server.StripHeaders = []string{"X-Tenant-Admin", "X-Corp-*"}
	spec.Server.KeepHeaders = []string{"X-Forwarded-Prefix", "X-User-Agent"}
	p := newTestProxy(t, spec)
	p.get(t, "/hr/employees", map[string]string{
		"X-API-Key": testKey, "X_Tenant_Admin": "1", "x-corp-role": "boss", "X-Corp-Id": "7",
		"X-Forwarded-Prefix": "/app", "X-User-Agent": "grpc-web", "X-User-Id": "1", "X-Original-URL": "/admin",
		"X-Corporate": "kept",
	})
	got := up.last(t).Header
	for _, k := range []string{"X-Tenant-Admin", "X_tenant_admin", "X-Corp-Role", "X-Corp-Id", "X-User-Id", "X-Original-Url"} {
		if v, ok := got[k]; ok {
			t.Errorf("upstream got %s: %q, want it removed", k, v)
		}
	}
	for k, want := range map[string]string{"X-Forwarded-Prefix": "/app", "X-User-Agent": "grpc-web", "X-Corporate": "kept"} {
		if v := got.Get(k); v != want {
			t.Errorf("upstream got %s %q, want %q", k, v, want)
		}
	}
}

// From a trusted proxy, X-Forwarded-Prefix and -Port pass and X-Real-IP is
// the client address gatehouse computed; identity and URL overrides never
// pass, whoever sends them.
func TestForward_TrustedProxyFrameworkHeaders(t *testing.T) {
	hdr := map[string]string{
		"X-API-Key": testKey, "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Prefix": "/app",
		"X-Forwarded-Port": "443", "X-Real-IP": "198.51.100.1", "X-Original-URL": "/admin",
		"Remote-User": "root", "X-Forwarded-Server": "lb1",
	}
	for _, tc := range []struct {
		name          string
		trusted       bool
		prefix, port  string
		realIP        string
		wantForwarded bool
	}{
		{"untrusted peer", false, "", "", "127.0.0.1", false},
		{"trusted peer", true, "/app", "443", "203.0.113.9", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, nil)
			spec := testSpec(t, up.URL)
			if tc.trusted {
				spec.Server.TrustedProxies = []netip.Prefix{mustPrefix(t, "127.0.0.0/8")}
			}
			p := newTestProxy(t, spec)
			p.get(t, "/hr/employees", hdr)
			got := up.last(t).Header
			if v := got.Get("X-Forwarded-Prefix"); v != tc.prefix {
				t.Errorf("X-Forwarded-Prefix = %q, want %q", v, tc.prefix)
			}
			if v := got.Get("X-Forwarded-Port"); v != tc.port {
				t.Errorf("X-Forwarded-Port = %q, want %q", v, tc.port)
			}
			if v := got["X-Real-Ip"]; len(v) != 1 || v[0] != tc.realIP {
				t.Errorf("X-Real-IP = %q, want [%s]", v, tc.realIP)
			}
			for _, k := range []string{"X-Original-Url", "Remote-User", "X-Forwarded-Server"} {
				if v, ok := got[k]; ok {
					t.Errorf("%s = %q, want it removed", k, v)
				}
			}
		})
	}
}

// Obsolete line folding could hide a header from a name check (the value
// continues on the next line); a space before the colon makes a name that
// some servers trim. Both are refused before any upstream sees the request:
// obs-fold by gatehouse's framing check, the space by net/http itself.
// HTTP/2 has neither (header fields are length-delimited).
func TestForward_FoldedOrSpacedHeaderNamesRefused(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	addr := strings.TrimPrefix(p.URL, "http://")
	for _, tc := range []struct{ head, reason string }{
		{"X-Original-URL: /pub/x\r\n /admin\r\n", reasonAmbiguousFraming},
		{"X-Trace: 1\r\n\tX-Original-URL: /admin\r\n", reasonAmbiguousFraming},
		{" X-Original-URL: /admin\r\n", ""}, // continues Host: net/http refuses the host
		{"X-Original-URL : /admin\r\n", ""}, // net/http: no access record
		{"X-Original-URL\t: /admin\r\n", ""},
	} {
		before := len(p.log.records(t))
		status, _ := raw(t, addr, "GET /pub/x HTTP/1.1\r\nHost: a\r\n"+tc.head+"Connection: close\r\n\r\n")
		if !strings.Contains(status, " 400 ") {
			t.Errorf("head %q: got %q, want 400", tc.head, status)
		}
		recs := p.log.records(t)
		switch {
		case tc.reason == "" && len(recs) != before:
			t.Errorf("head %q: got an access record %v, want net/http's own 400", tc.head, recs[len(recs)-1])
		case tc.reason != "" && (len(recs) == before || recs[len(recs)-1]["reason"] != tc.reason):
			t.Errorf("head %q: want an access record with reason %s", tc.head, tc.reason)
		}
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("upstream received %d requests, want 0", n)
	}
}
