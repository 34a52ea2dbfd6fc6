package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

const authConfig = `
server {
  listen       = "127.0.0.1:%d"
  admin_listen = "127.0.0.1:0"
  production   = true
}

sessions {
  signing_key = "e2e-signing-key-0123456789abcdef-0123456789"
  ttl         = "10m"
  refresh_ttl = "1h"
}

upstream "hr" {
  url    = "%s"
  prefix = "/hr"
}

app "portal" {
  api_key_sha256 = "%s"
  default_role   = "guest"
}

role "guest" {
  allow "hr" {
    paths = ["/public"]
    verbs = ["GET"]
  }
}

role "hr_reader" {
  allow "hr" {
    paths = ["/employees", "/employees/*"]
    verbs = ["GET"]
  }
}

%s
`

// authWorld is gatehouse (the real binary) in front of a recording
// upstream, with whatever identity blocks a test adds.
type authWorld struct {
	base string
	key  string
	proc *process // the binary, for its logs
	mu   sync.Mutex
	seen []string // "path user role" as the upstream saw them
}

func (w *authWorld) upstreamCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.seen)
}

func startAuthWorld(t *testing.T, port int, blocks string) *authWorld {
	t.Helper()
	w := &authWorld{key: "e2e-portal-key"}
	up := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.seen = append(w.seen, r.URL.Path+" "+r.Header.Get("X-Gatehouse-User")+" "+r.Header.Get("X-Gatehouse-Role")+
			" auth="+r.Header.Get("Authorization")+" cookie="+r.Header.Get("Cookie"))
		w.mu.Unlock()
		_, _ = io.WriteString(rw, "ok")
	}))
	t.Cleanup(up.Close)
	if port == 0 {
		port = freePort(t)
	}
	p := startWithConfig(t, t.TempDir(), fmt.Sprintf(authConfig, port, up.URL, hashKey(w.key), blocks))
	t.Cleanup(func() { _ = p.stop(t) })
	w.base, w.proc = "http://"+p.public, p
	return w
}

// freePort returns a loopback port that was free a moment ago, for
// configs that must name their own address before the server starts
// (OAuth redirect URLs). It is outside the ephemeral range, so the
// servers and connections a test opens meanwhile are not given it.
func freePort(t *testing.T) int {
	t.Helper()
	ports, err := testenv.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return ports[0]
}

func (w *authWorld) do(t *testing.T, c *http.Client, method, path, token string, body any) (*http.Response, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, w.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-API-Key", w.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	m := map[string]any{}
	_ = json.Unmarshal(b, &m)
	return res, m
}

// sessionLifecycle is the bar of the identity issue, after a login that
// produced token: call an upstream with it, refresh, log out, and see the
// token refused afterwards (and never reach the upstream).
func (w *authWorld) sessionLifecycle(t *testing.T, token, wantUser string) {
	t.Helper()
	res, _ := w.do(t, nil, "GET", "/hr/employees", token, nil)
	if res.StatusCode != 200 {
		t.Fatalf("GET /hr/employees with the session: %d, want 200", res.StatusCode)
	}
	w.mu.Lock()
	last := w.seen[len(w.seen)-1]
	w.mu.Unlock()
	if want := "/employees " + wantUser + " hr_reader auth= cookie="; last != want {
		t.Errorf("upstream saw %q, want %q", last, want)
	}
	if res, _ := w.do(t, nil, "GET", "/hr/employees", "", nil); res.StatusCode != 403 {
		t.Errorf("the same call as a guest: %d, want 403", res.StatusCode)
	}
	res, body := w.do(t, nil, "POST", "/auth/refresh", token, nil)
	next, _ := body["session_token"].(string)
	if res.StatusCode != 200 || next == "" || next == token {
		t.Fatalf("refresh: %d %v", res.StatusCode, body)
	}
	if res, _ := w.do(t, nil, "GET", "/hr/employees", token, nil); res.StatusCode != 401 {
		t.Errorf("refreshed-away token: %d, want 401", res.StatusCode)
	}
	if res, _ := w.do(t, nil, "GET", "/hr/employees", next, nil); res.StatusCode != 200 {
		t.Errorf("refreshed token: %d, want 200", res.StatusCode)
	}
	if res, _ := w.do(t, nil, "POST", "/auth/logout", next, nil); res.StatusCode != 204 {
		t.Errorf("logout: %d, want 204", res.StatusCode)
	}
	n := w.upstreamCount()
	if res, _ := w.do(t, nil, "GET", "/hr/employees", next, nil); res.StatusCode != 401 {
		t.Errorf("token after logout: %d, want 401", res.StatusCode)
	}
	if w.upstreamCount() != n {
		t.Error("a request with a logged-out token reached the upstream")
	}
}

func TestAuthE2E_LocalUser(t *testing.T) {
	// The hash comes from the binary's own hash-password (stdin mode),
	// with small argon2id parameters to keep the race-enabled test fast.
	cmd := runCmdStdin(t, "alice-e2e-pw\n", "hash-password", "-memory", "1024", "-time", "1", "-threads", "1")
	if !strings.HasPrefix(cmd, `password_hash = "$argon2id$v=19$m=1024,t=1,p=1$`) {
		t.Fatalf("hash-password printed %q", cmd)
	}
	w := startAuthWorld(t, 0, fmt.Sprintf(`
user "alice" {
  %s
  roles = { portal = "hr_reader" }
}
`, strings.TrimSpace(cmd)))
	res, _ := w.do(t, nil, "POST", "/auth/login", "", map[string]string{"username": "alice", "password": "wrong"})
	if res.StatusCode != 401 {
		t.Errorf("wrong password: %d, want 401", res.StatusCode)
	}
	res, body := w.do(t, nil, "POST", "/auth/login", "", map[string]string{"username": "alice", "password": "alice-e2e-pw"})
	token, _ := body["session_token"].(string)
	if res.StatusCode != 200 || token == "" {
		t.Fatalf("login: %d %v", res.StatusCode, body)
	}
	w.sessionLifecycle(t, token, "alice")
}

func TestAuthE2E_LDAPUser(t *testing.T) {
	for _, vuln := range []bool{false, true} {
		t.Run(fmt.Sprintf("allow_bind_anon_dn=%v", vuln), func(t *testing.T) {
			d := testenv.StartSlapd(t, testenv.SlapdOptions{AllowBindAnonDN: vuln})
			w := startAuthWorld(t, 0, fmt.Sprintf(`
ldap "corp" {
  url           = %q
  bind_dn       = %q
  bind_password = %q
  user_base     = %q
  group_base    = %q
  roles         = { portal = { "hr-staff" = "hr_reader" } }
}
`, d.URL, d.ServiceDN, d.ServicePassword, d.PeopleDN, d.GroupsDN))
			login := func(user, pw string) (int, string) {
				res, body := w.do(t, nil, "POST", "/auth/login", "", map[string]string{"username": user, "password": pw, "provider": "corp"})
				tok, _ := body["session_token"].(string)
				return res.StatusCode, tok
			}
			// An empty password must never log in, even where the
			// directory accepts unauthenticated binds.
			for _, c := range [][2]string{{"alice", ""}, {"alice", "wrong"}, {"nosuchuser", "x"}, {"*", "alicepw"}, {"alice)(uid=*", "alicepw"}} {
				if code, _ := login(c[0], c[1]); code != 401 {
					t.Errorf("login %q/%q: %d, want 401", c[0], c[1], code)
				}
			}
			code, token := login("alice", "alicepw")
			if code != 200 {
				t.Fatalf("LDAP login: %d", code)
			}
			res, body := w.do(t, nil, "GET", "/auth/session", token, nil)
			if res.StatusCode != 200 || body["provider"] != "corp" || body["role"] != "hr_reader" {
				t.Errorf("session: %d %v", res.StatusCode, body)
			}
			w.sessionLifecycle(t, token, "alice")
			// bob is in no mapped group: the app's default role.
			code, token = login("bob", "bobpw")
			if code != 200 {
				t.Fatalf("bob login: %d", code)
			}
			if res, _ := w.do(t, nil, "GET", "/hr/public", token, nil); res.StatusCode != 200 {
				t.Errorf("bob on a guest path: %d", res.StatusCode)
			}
			if res, _ := w.do(t, nil, "GET", "/hr/employees", token, nil); res.StatusCode != 403 {
				t.Errorf("bob on an hr_reader path: %d, want 403", res.StatusCode)
			}
			// Timing of unknown users and wrong passwords, for the record
			// (a wrong password costs one more directory round trip).
			median := func(user, pw string) time.Duration {
				var ds []time.Duration
				for range 7 {
					start := time.Now()
					if code, _ := login(user, pw); code != 401 {
						t.Errorf("login %s: %d", user, code)
					}
					ds = append(ds, time.Since(start))
				}
				slices.Sort(ds)
				return ds[len(ds)/2]
			}
			t.Logf("LDAP login median: unknown user %v, wrong password %v", median("nosuchuser", "x"), median("alice", "x"))
			// A directory that is down is a 503, not a wrong password.
			if err := d.Stop(); err != nil {
				t.Fatal(err)
			}
			if code, _ := login("alice", "alicepw"); code != 503 {
				t.Errorf("login with the directory down: %d, want 503", code)
			}
		})
	}
}

func TestAuthE2E_OIDCLogin(t *testing.T) {
	port := freePort(t)
	callback := fmt.Sprintf("http://127.0.0.1:%d/auth/oauth/sso/callback", port)
	idp := testidp.New(t, testidp.RedirectURIs(callback))
	w := startAuthWorld(t, port, fmt.Sprintf(`
user "alice" {
  email = "alice@example.test" # OIDC logins with this verified email are alice
  roles = { portal = "hr_reader" }
}

oauth "sso" {
  provider      = "oidc"
  issuer        = %q
  client_id     = %q
  client_secret = %q
  redirect_url  = %q
  app           = "portal"
}
`, idp.Issuer(), idp.ClientID(), idp.ClientSecret(), callback))

	// A browser: a cookie jar, following redirects until it is sent back
	// to a gatehouse page outside /auth/.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) > 5 {
			return fmt.Errorf("too many redirects")
		}
		if strings.HasPrefix(req.URL.String(), w.base) && !strings.HasPrefix(req.URL.Path, "/auth/") {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	res, err := browser.Get(w.base + "/auth/oauth/sso/login?next=/hr/employees")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/hr/employees" {
		t.Fatalf("after the callback: %d Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	q := idp.LastAuthorizeQuery()
	if q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || q.Get("state") == "" {
		t.Errorf("authorize request lacks PKCE S256, nonce or state: %v", q)
	}
	// The session is in the cookie; the app key still comes from the page.
	res, body := w.do(t, browser, "GET", "/auth/session", "", nil)
	if res.StatusCode != 200 || body["user"] != "alice" || body["provider"] != "sso" || body["role"] != "hr_reader" {
		t.Fatalf("session after OIDC login: %d %v", res.StatusCode, body)
	}
	var token string
	for _, c := range jar.Cookies(res.Request.URL) {
		if c.Name == "gatehouse_session" {
			token = c.Value
		}
	}
	if token == "" {
		t.Fatal("no session cookie in the jar")
	}
	w.sessionLifecycle(t, token, "alice")

	// Someone whose email is not a local user's gets the default role.
	idp.SetUser(testidp.User{Subject: "u-zed", Email: "zed@example.test", EmailVerified: true})
	jar2, _ := cookiejar.New(nil)
	browser.Jar = jar2
	res, err = browser.Get(w.base + "/auth/oauth/sso/login?next=/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res, body := w.do(t, browser, "GET", "/auth/session", "", nil); res.StatusCode != 200 || body["user"] != "u-zed" || body["role"] != "guest" {
		t.Errorf("unmapped user: %d %v", res.StatusCode, body)
	}
	// An unverified email does not map to alice.
	idp.SetUser(testidp.User{Subject: "u-mallory", Email: "alice@example.test", EmailVerified: false})
	browser.Jar, _ = cookiejar.New(nil)
	if res, err = browser.Get(w.base + "/auth/oauth/sso/login?next=/"); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res, body := w.do(t, browser, "GET", "/auth/session", "", nil); res.StatusCode != 200 || body["user"] != "u-mallory" || body["role"] != "guest" || body["email"] != nil {
		t.Errorf("unverified email: %d %v", res.StatusCode, body)
	}
	// next must be a same-origin path.
	for _, next := range []string{"//evil.example", "/\\evil.example", "https://evil.example/", "/%2f%2fevil.example"} {
		res, err := browser.Get(w.base + "/auth/oauth/sso/login?next=" + strings.ReplaceAll(next, "%", "%25"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 400 {
			t.Errorf("next=%q: %d, want 400", next, res.StatusCode)
		}
	}
}

// runCmdStdin runs the binary with stdin and returns its stdout.
func runCmdStdin(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return string(out)
}
