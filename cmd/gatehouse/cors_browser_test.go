package main

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// corsBrowserConfig: the page origin is http://app.example.test:<page
// port>; Chromium resolves every name to 127.0.0.1.
const corsBrowserConfig = `
server {
  listen       = "127.0.0.1:0"
  admin_listen = "127.0.0.1:0"
  production   = true
}

upstream "api" {
  url    = "%[1]s"
  prefix = "/api"
}

upstream "pub" {
  url    = "%[1]s"
  prefix = "/pub"
  public = true
}

app "spa" {
  api_key_sha256 = "%[2]s"
  default_role   = "editor"
}

role "editor" {
  allow "api" {
    paths = ["/items", "/items/**"]
    verbs = ["GET", "PUT", "DELETE"]
  }
}

cors "/api/**" {
  origins         = ["http://app.example.test:%[3]s"]
  methods         = ["GET", "PUT"]
  headers         = ["X-API-Key", "Content-Type", "X-Custom"]
  exposed_headers = ["X-Total-Count"]
  max_age         = 600
  credentials     = true
}

cors "/pub/**" {
  origins         = ["http://app.example.test:%[3]s"]
  methods         = ["GET"]
  exposed_headers = ["X-Total-Count"]
  credentials     = true
}

cors "/pub/wild/**" {
  origins = ["http://*.example.test:%[3]s"]
  methods = ["GET"]
}
`

// corsPage runs the fetches named in ?cases= against ?api= and writes one
// line per case into #out: "name: OK <status> <detail>" or "name: BLOCKED
// <error name>" (a CORS failure is a TypeError without details).
const corsPage = `<!doctype html><meta charset=utf-8><title>RUNNING</title><pre id=out></pre><script>
const P = new URLSearchParams(location.search);
const api = P.get('api'), key = P.get('key');
const text = async r => r.status + ' ' + (await r.text()).trim();
const errorOf = async r => r.status + ' ' + (await r.json()).error;
const cases = {
  put_credentials_custom_header: () => fetch(api + '/api/items/1?case=put_credentials_custom_header', {method: 'PUT', credentials: 'include',
    headers: {'X-API-Key': key, 'X-Custom': '1', 'Content-Type': 'application/json'}, body: '{"name":"x"}'}).then(text),
  simple_get_exposed_header: () => fetch(api + '/pub/info?case=simple_get_exposed_header').then(r =>
    r.status + ' total=' + r.headers.get('X-Total-Count') + ' secret=' + r.headers.get('X-Secret')),
  upstream_star_replaced: () => fetch(api + '/pub/legacy?case=upstream_star_replaced', {credentials: 'include'}).then(text),
  missing_allowed_header: () => fetch(api + '/api/items/2?case=missing_allowed_header', {method: 'PUT', credentials: 'include',
    headers: {'X-API-Key': key, 'X-Forbidden': '1'}}).then(text),
  method_not_allowed: () => fetch(api + '/api/items/3?case=method_not_allowed', {method: 'DELETE', credentials: 'include',
    headers: {'X-API-Key': key}}).then(text),
  error_401_readable: () => fetch(api + '/api/items?case=error_401_readable', {credentials: 'include',
    headers: {'X-API-Key': 'wrong-key'}}).then(errorOf),
  error_403_readable: () => fetch(api + '/api/private?case=error_403_readable', {credentials: 'include',
    headers: {'X-API-Key': key}}).then(errorOf),
  wildcard_subdomain: () => fetch(api + '/pub/wild/x?case=wildcard_subdomain_' + location.hostname).then(text),
  disallowed_simple_get: () => fetch(api + '/pub/info?case=disallowed_simple_get').then(text),
  disallowed_preflighted_put: () => fetch(api + '/api/items/4?case=disallowed_preflighted_put', {method: 'PUT', credentials: 'include',
    headers: {'X-API-Key': key, 'Content-Type': 'application/json'}, body: '{}'}).then(text),
};
(async () => {
  const out = [];
  for (const name of P.get('cases').split(',')) {
    try { out.push(name + ': OK ' + await cases[name]()); }
    catch (e) { out.push(name + ': BLOCKED ' + e.name); }
  }
  document.getElementById('out').textContent = out.join('\n');
  document.title = 'DONE';
})();
</script>`

// browserCase is one fetch made by a page of one origin.
type browserCase struct {
	page, name, want string
}

// TestCORS_Browser runs fetches in headless Chromium from pages on several
// origins against the real gatehouse binary, and checks both what the page
// could read and what reached the upstream.
func TestCORS_Browser(t *testing.T) {
	testenv.Chromium(t)
	var mu sync.Mutex
	var reached []string // "METHOD case" per upstream request
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reached = append(reached, r.Method+" "+r.URL.Query().Get("case"))
		mu.Unlock()
		h := w.Header()
		// The upstream's own, too permissive, CORS answer: gatehouse must
		// replace it on CORS paths.
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Expose-Headers", "X-Secret")
		h.Set("X-Total-Count", "42")
		h.Set("X-Secret", "s3cret")
		_, _ = fmt.Fprintf(w, "upstream %s %s", r.Method, r.URL.Path)
	}))
	defer up.Close()
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, corsPage)
	}))
	defer page.Close()
	pagePort := port(t, page.URL)

	p := startWithConfig(t, t.TempDir(), fmt.Sprintf(corsBrowserConfig, up.URL, hashKey("spa-key"), pagePort))
	api := "http://api.example.test:" + port(t, "http://"+p.public)

	cases := []browserCase{
		{"app.example.test", "put_credentials_custom_header", "OK 200 upstream PUT /items/1"},
		{"app.example.test", "simple_get_exposed_header", "OK 200 total=42 secret=null"},
		{"app.example.test", "upstream_star_replaced", "OK 200 upstream GET /legacy"},
		{"app.example.test", "missing_allowed_header", "BLOCKED TypeError"},
		{"app.example.test", "method_not_allowed", "BLOCKED TypeError"},
		{"app.example.test", "error_401_readable", "OK 401 Unauthorized"},
		{"app.example.test", "error_403_readable", "OK 403 Forbidden"},
		{"app.example.test", "wildcard_subdomain", "OK 200 upstream GET /wild/x"},
		{"other.example.test", "wildcard_subdomain", "OK 200 upstream GET /wild/x"},
		{"other.example.test", "disallowed_preflighted_put", "BLOCKED TypeError"},
		{"app.evilexample.test", "wildcard_subdomain", "BLOCKED TypeError"},
		{"app.evilexample.test", "disallowed_simple_get", "BLOCKED TypeError"},
		{"app.evilexample.test", "disallowed_preflighted_put", "BLOCKED TypeError"},
		{"example.test", "wildcard_subdomain", "BLOCKED TypeError"},
		{"app.example.test.evil.test", "wildcard_subdomain", "BLOCKED TypeError"},
	}
	start := time.Now()
	got := map[[2]string]string{}
	var pages []string
	for _, c := range cases {
		if !slices.Contains(pages, c.page) {
			pages = append(pages, c.page)
		}
	}
	lineRE := regexp.MustCompile(`(?m)^(\w+): (.*)$`)
	for _, pg := range pages {
		var names []string
		for _, c := range cases {
			if c.page == pg {
				names = append(names, c.name)
			}
		}
		u := fmt.Sprintf("http://%s:%s/?api=%s&key=%s&cases=%s", pg, pagePort,
			url.QueryEscape(api), url.QueryEscape("spa-key"), strings.Join(names, ","))
		dom := testenv.DumpDOM(t, u, testenv.DumpDOMOptions{HostResolverRules: "MAP * 127.0.0.1"})
		if !strings.Contains(dom, "<title>DONE</title>") {
			t.Fatalf("page %s did not finish:\n%s", pg, dom)
		}
		out := dom[strings.Index(dom, `<pre id="out">`)+len(`<pre id="out">`):]
		out = html.UnescapeString(out[:strings.Index(out, "</pre>")])
		for _, m := range lineRE.FindAllStringSubmatch(out, -1) {
			got[[2]string{pg, m[1]}] = m[2]
		}
	}
	elapsed := time.Since(start)
	var table strings.Builder
	fmt.Fprintf(&table, "%-28s %-30s %-32s %s\n", "page origin", "case", "expected", "got")
	for _, c := range cases {
		g := got[[2]string{c.page, c.name}]
		mark := ""
		if g != c.want {
			mark = "  <-- MISMATCH"
			t.Errorf("%s from %s: got %q, want %q", c.name, c.page, g, c.want)
		}
		fmt.Fprintf(&table, "%-28s %-30s %-32s %s%s\n", c.page, c.name, c.want, g, mark)
	}
	t.Logf("browser matrix (%d cases, %d Chromium runs, %v):\n%s", len(cases), len(pages), elapsed.Round(time.Millisecond), table.String())

	// What reached the upstream: no preflight ever (gatehouse answers them),
	// and no request whose preflight the browser failed.
	mu.Lock()
	defer mu.Unlock()
	count := func(s string) int {
		n := 0
		for _, r := range reached {
			if r == s {
				n++
			}
		}
		return n
	}
	for _, r := range reached {
		if strings.HasPrefix(r, "OPTIONS ") {
			t.Errorf("a preflight reached the upstream: %q", r)
		}
	}
	for _, tc := range []struct {
		req  string
		want int
	}{
		{"PUT put_credentials_custom_header", 1},
		{"PUT missing_allowed_header", 0},
		{"DELETE method_not_allowed", 0},
		{"PUT disallowed_preflighted_put", 0},
		// Simple requests are sent whatever the CORS answer; only the
		// response is hidden from the page. That is how CORS works, and why
		// grants, not origins, decide what a request may do.
		{"GET disallowed_simple_get", 1},
	} {
		if n := count(tc.req); n != tc.want {
			t.Errorf("upstream got %q %d times, want %d (all: %q)", tc.req, n, tc.want, reached)
		}
	}
	// The refused preflights are in gatehouse's access log.
	refused := 0
	for _, l := range p.logs() {
		if l["msg"] == "request" && l["reason"] == "cors_preflight_refused" {
			refused++
		}
	}
	if refused < 3 {
		t.Errorf("access log has %d refused preflights, want at least 3 (method_not_allowed, 2x disallowed_preflighted_put)", refused)
	}
	if err := p.stop(t); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}

// TestCORS_ValidateRefusesAnyOriginWithCredentials: origins = ["*"] with
// credentials = true is a positioned config error, not a browser case.
func TestCORS_ValidateRefusesAnyOriginWithCredentials(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "cors.hcl"), `cors "/api/**" {
  origins     = ["*"]
  credentials = true
}
`)
	code, _, stderr := runCmd(t, dir, "validate", "--config", "cors.hcl")
	if code != 1 || !strings.Contains(stderr, "cors.hcl:2:18: error: Wildcard origin with credentials") {
		t.Fatalf("exit %d, want 1 with the error at cors.hcl:2:18:\n%s", code, stderr)
	}
}

func port(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil || u.Port() == "" {
		t.Fatalf("no port in %q", rawURL)
	}
	return u.Port()
}
