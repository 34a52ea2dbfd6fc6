package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// These tests log in through the real binary against a provider that is
// not the project's own: zitadel/oidc's example OpenID Provider
// (example/server/exampleop with its in-memory storage), run in-process
// on loopback. The browser is a net/http client with a cookie jar that
// fills in the provider's login form.

// zitadelOP is the example OP on a loopback listener, with one web client
// whose redirect URI is gatehouse's callback, and a record of how the
// client authenticated at the token endpoint.
type zitadelOP struct {
	srv    *httptest.Server
	issuer string // as the OP states it, with a trailing slash

	mu         sync.Mutex
	tokenAuths []string // "basic", "post" or "jwt" per token request
	userinfos  int      // userinfo requests
}

// zitadelSetup is the example OP's setup for a test: wrap selects the
// OP's legacy Server adapter (op.RegisterLegacyServer) instead of the
// Provider's own handler, as the example's main does with -wrap; the rest
// is the client's registration (the example's WebClient has
// client_secret_basic, no post-logout redirect URIs and the code response
// type, among others).
type zitadelSetup struct {
	wrap          bool
	method        oidc.AuthMethod
	clientKey     *rsa.PublicKey // for private_key_jwt, kid zitadelKeyID
	redirectURIs  []string
	postLogout    []string
	responseTypes []oidc.ResponseType // nil for the example's
}

// zitadelStorage is the example storage with the client registered as
// the test's zitadelSetup says.
type zitadelStorage struct {
	*storage.Storage
	setup zitadelSetup
}

// GetKeyByIDAndClientID gives the OP the client's public key for
// private_key_jwt (the example's own service key is 1024-bit RSA, which
// gatehouse refuses).
func (s *zitadelStorage) GetKeyByIDAndClientID(ctx context.Context, keyID, clientID string) (*jose.JSONWebKey, error) {
	if clientID != zitadelClientID || keyID != zitadelKeyID || s.setup.clientKey == nil {
		return nil, fmt.Errorf("no key %q for client %q", keyID, clientID)
	}
	return &jose.JSONWebKey{KeyID: keyID, Use: "sig", Key: s.setup.clientKey}, nil
}

func (s *zitadelStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return zitadelClient{Client: c, setup: s.setup}, nil
}

type zitadelClient struct {
	op.Client
	setup zitadelSetup
}

func (c zitadelClient) AuthMethod() oidc.AuthMethod      { return c.setup.method }
func (c zitadelClient) PostLogoutRedirectURIs() []string { return c.setup.postLogout }
func (c zitadelClient) ResponseTypes() []oidc.ResponseType {
	if c.setup.responseTypes != nil {
		return c.setup.responseTypes
	}
	return c.Client.ResponseTypes()
}

const (
	zitadelClientID     = "web"
	zitadelClientSecret = "secret"
	zitadelPassword     = "verysecure" // the example users' password
	zitadelKeyID        = "gatehouse-key"
)

// startZitadelOP starts the example OP.
func startZitadelOP(t *testing.T, setup zitadelSetup) *zitadelOP {
	t.Helper()
	z := &zitadelOP{srv: httptest.NewUnstartedServer(nil)}
	z.issuer = "http://" + z.srv.Listener.Addr().String() + "/"
	clients := map[string]*storage.Client{
		zitadelClientID: storage.WebClient(zitadelClientID, zitadelClientSecret, setup.redirectURIs...),
	}
	st := &zitadelStorage{
		Storage: storage.NewStorageWithClients(storage.NewUserStore(z.issuer), clients),
		setup:   setup,
	}
	router := exampleop.SetupServer(z.issuer, st, nil, setup.wrap)
	z.srv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/oauth/token":
			z.recordTokenAuth(r)
		case "/userinfo":
			z.mu.Lock()
			z.userinfos++
			z.mu.Unlock()
		}
		router.ServeHTTP(rw, r)
	})
	z.srv.Config.ReadHeaderTimeout = 10 * time.Second
	z.srv.Start()
	t.Cleanup(z.srv.Close)
	return z
}

// recordTokenAuth notes how a token request authenticated the client; the
// body is put back for the OP.
func (z *zitadelOP) recordTokenAuth(r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	r.Body = io.NopCloser(bytes.NewReader(b))
	form, _ := url.ParseQuery(string(b))
	var how []string
	if _, _, ok := r.BasicAuth(); ok {
		how = append(how, "basic")
	}
	if form.Get("client_secret") != "" {
		how = append(how, "post")
	}
	if form.Get("client_assertion") != "" {
		how = append(how, "jwt")
	}
	z.mu.Lock()
	z.tokenAuths = append(z.tokenAuths, strings.Join(how, "+"))
	z.mu.Unlock()
}

func (z *zitadelOP) tokenAuthsSeen() []string {
	z.mu.Lock()
	defer z.mu.Unlock()
	return append([]string(nil), z.tokenAuths...)
}

func (z *zitadelOP) userinfoCount() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.userinfos
}

// username is the example user's login name: the example derives its
// host part from the issuer.
func (z *zitadelOP) username(n int) string {
	if n == 2 {
		return "test-user2"
	}
	return "test-user@127.0.0.1"
}

var zitadelFormID = regexp.MustCompile(`<input type="hidden" name="id" value="([^"]+)">`)

// zitadelLogin drives a browser through a login: gatehouse's login start,
// the OP's login form (username and password), the OP's callback and
// gatehouse's callback, up to gatehouse's redirect to next. It returns
// that last response (a 302 from gatehouse, not followed).
func zitadelLogin(t *testing.T, w *authWorld, z *zitadelOP, browser *http.Client, block, next, user, password string) *http.Response {
	t.Helper()
	res, err := browser.Get(w.base + "/auth/oauth/" + block + "/login?next=" + url.QueryEscape(next))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Request.URL.String(), z.issuer+"login/username?") {
		t.Fatalf("login start ended at %s with %d, want the OP's login form", res.Request.URL, res.StatusCode)
	}
	m := zitadelFormID.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no auth request id in the OP's login form:\n%s", page)
	}
	res, err = browser.PostForm(z.issuer+"login/username", url.Values{
		"id":       {string(m[1])},
		"username": {user},
		"password": {password},
	})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// zitadelBrowser is a browser with its own cookie jar that follows
// redirects, except gatehouse's final one to a page outside /auth/.
func zitadelBrowser(w *authWorld) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) > 8 {
			return fmt.Errorf("too many redirects")
		}
		if strings.HasPrefix(req.URL.String(), w.base) && !strings.HasPrefix(req.URL.Path, "/auth/") {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

func sessionCookie(t *testing.T, browser *http.Client, base string) string {
	t.Helper()
	u, _ := url.Parse(base)
	for _, c := range browser.Jar.Cookies(u) {
		if c.Name == "gatehouse_session" {
			return c.Value
		}
	}
	t.Fatal("no session cookie in the jar")
	return ""
}

// newZitadelKey makes a private_key_jwt key for the client: the key and
// its PEM for gatehouse's private_key.
func newZitadelKey(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

const zitadelUsers = `
user "tess" {
  email = "test-user@zitadel.ch" # the example OP's first user (verified email)
  roles = { portal = "hr_reader" }
}
`

// The login flow end to end against zitadel/oidc's example OP, for each
// client authentication method gatehouse has for a secret, with the
// issuer written as the OP states it and without its trailing slash, and
// through both of the OP's server implementations.
func TestAuthE2E_ZitadelLogin(t *testing.T) {
	zitadelKey, zitadelKeyPEM := newZitadelKey(t)
	for _, tc := range []struct {
		name    string
		wrap    bool
		method  oidc.AuthMethod
		setting string // token_endpoint_auth_method, "" for the default
		aud     string // client_assertion_audience, "" for none
		slash   bool   // issuer written with the OP's trailing slash
		want    string // how the token request authenticated, as recorded
	}{
		{name: "basic default", method: oidc.AuthMethodBasic, slash: true, want: "basic"},
		{name: "basic without slash", method: oidc.AuthMethodBasic, setting: "client_secret_basic", want: "basic"},
		{name: "post legacy server", wrap: true, method: oidc.AuthMethodPost, setting: "client_secret_post", want: "post"},
		{name: "private_key_jwt", method: oidc.AuthMethodPrivateKeyJWT, setting: "private_key_jwt", aud: "issuer", want: "jwt"},
		{name: "private_key_jwt legacy server", wrap: true, method: oidc.AuthMethodPrivateKeyJWT, setting: "private_key_jwt", aud: "issuer", slash: true, want: "jwt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := freePort(t)
			callback := fmt.Sprintf("http://127.0.0.1:%d/auth/oauth/zitadel/callback", port)
			z := startZitadelOP(t, zitadelSetup{wrap: tc.wrap, method: tc.method, clientKey: &zitadelKey.PublicKey, redirectURIs: []string{callback}})
			issuer := z.issuer
			if !tc.slash {
				issuer = strings.TrimSuffix(issuer, "/")
			}
			auth := fmt.Sprintf("client_secret = %q", zitadelClientSecret)
			switch tc.setting {
			case "":
			case "private_key_jwt":
				auth = fmt.Sprintf("token_endpoint_auth_method = %q\n  client_assertion_audience = %q\n  private_key_id = %q\n  private_key = <<EOT\n%sEOT", tc.setting, tc.aud, zitadelKeyID, zitadelKeyPEM)
			default:
				auth += fmt.Sprintf("\n  token_endpoint_auth_method = %q", tc.setting)
			}
			w := startAuthWorld(t, port, zitadelUsers+fmt.Sprintf(`
oauth "zitadel" {
  provider      = "oidc"
  issuer        = %q
  client_id     = %q
  redirect_url  = %q
  app           = "portal"
  default_role  = "guest"
  %s
}
`, issuer, zitadelClientID, callback, auth))

			// A wrong password stays at the OP's form: gatehouse sees no callback.
			browser := zitadelBrowser(w)
			res := zitadelLogin(t, w, z, browser, "zitadel", "/hr/employees", z.username(1), "wrong")
			if res.StatusCode != 200 || !strings.HasPrefix(res.Request.URL.String(), z.issuer) {
				t.Fatalf("wrong password: %d at %s, want the OP's form again", res.StatusCode, res.Request.URL)
			}
			if got := z.tokenAuthsSeen(); len(got) != 0 {
				t.Fatalf("token requests after a wrong password: %v", got)
			}

			// The first example user's verified email is local user tess's.
			browser = zitadelBrowser(w)
			res = zitadelLogin(t, w, z, browser, "zitadel", "/hr/employees", z.username(1), zitadelPassword)
			if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/hr/employees" {
				t.Fatalf("after the callback: %d Location %q at %s", res.StatusCode, res.Header.Get("Location"), res.Request.URL)
			}
			if got := z.tokenAuthsSeen(); len(got) != 1 || got[0] != tc.want {
				t.Fatalf("token requests authenticated as %q, want [%s]", got, tc.want)
			}
			// The OP leaves the email out of the ID token when it issues an
			// access token too: gatehouse asks userinfo for it.
			if n := z.userinfoCount(); n != 1 {
				t.Errorf("userinfo requests: %d, want 1", n)
			}
			res, body := w.do(t, browser, "GET", "/auth/session", "", nil)
			if res.StatusCode != 200 || body["user"] != "tess" || body["provider"] != "zitadel" || body["role"] != "hr_reader" || body["email"] != "test-user@zitadel.ch" {
				t.Fatalf("session after login: %d %v", res.StatusCode, body)
			}
			w.sessionLifecycle(t, sessionCookie(t, browser, w.base), "tess")

			// The second example user maps to no local user: the OP's
			// subject, with the block's default role.
			browser = zitadelBrowser(w)
			res = zitadelLogin(t, w, z, browser, "zitadel", "/", z.username(2), zitadelPassword)
			if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/" {
				t.Fatalf("second user after the callback: %d Location %q", res.StatusCode, res.Header.Get("Location"))
			}
			if res, body := w.do(t, browser, "GET", "/auth/session", "", nil); res.StatusCode != 200 || body["user"] != "id2" || body["role"] != "guest" {
				t.Fatalf("unmapped user: %d %v", res.StatusCode, body)
			}
			n := w.upstreamCount()
			if res, _ := w.do(t, browser, "GET", "/hr/employees", "", nil); res.StatusCode != 403 || w.upstreamCount() != n {
				t.Errorf("guest session on /hr/employees: %d, want 403 without reaching the upstream", res.StatusCode)
			}
		})
	}
}

// RP-initiated logout against the example OP: gatehouse's end_session_url
// is accepted by the OP, which ends its side and sends the browser to the
// registered post_logout_redirect_uri.
func TestAuthE2E_ZitadelEndSession(t *testing.T) {
	port := freePort(t)
	callback := fmt.Sprintf("http://127.0.0.1:%d/auth/oauth/zitadel/callback", port)
	bye := fmt.Sprintf("http://127.0.0.1:%d/bye", port)
	z := startZitadelOP(t, zitadelSetup{method: oidc.AuthMethodBasic, redirectURIs: []string{callback}, postLogout: []string{bye}})
	w := startAuthWorld(t, port, zitadelUsers+fmt.Sprintf(`
oauth "zitadel" {
  provider                 = "oidc"
  issuer                   = %q
  client_id                = %q
  client_secret            = %q
  redirect_url             = %q
  app                      = "portal"
  end_session              = true
  post_logout_redirect_url = %q
}
`, z.issuer, zitadelClientID, zitadelClientSecret, callback, bye))

	browser := zitadelBrowser(w)
	res := zitadelLogin(t, w, z, browser, "zitadel", "/", z.username(1), zitadelPassword)
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/" {
		t.Fatalf("after the callback: %d Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	res, body := w.do(t, browser, "POST", "/auth/logout", "", nil)
	raw, _ := body["end_session_url"].(string)
	if res.StatusCode != 200 || !strings.HasPrefix(raw, z.issuer+"end_session?") {
		t.Fatalf("logout: %d %v", res.StatusCode, body)
	}
	if res, _ := w.do(t, browser, "GET", "/auth/session", "", nil); res.StatusCode != 401 {
		t.Fatalf("session after logout: %d", res.StatusCode)
	}
	res, err := browser.Get(raw)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != bye {
		t.Fatalf("OP logout: %d Location %q", res.StatusCode, res.Header.Get("Location"))
	}
}

// A provider error: the OP refuses the authorization request of a client
// registered without the code response type and sends the browser back
// with error=unauthorized_client, which gatehouse reports as the
// provider's error, not as the user declining.
func TestAuthE2E_ZitadelProviderError(t *testing.T) {
	port := freePort(t)
	callback := fmt.Sprintf("http://127.0.0.1:%d/auth/oauth/zitadel/callback", port)
	z := startZitadelOP(t, zitadelSetup{
		method:        oidc.AuthMethodBasic,
		redirectURIs:  []string{callback},
		responseTypes: []oidc.ResponseType{oidc.ResponseTypeIDToken},
	})
	w := startAuthWorld(t, port, fmt.Sprintf(`
oauth "zitadel" {
  provider      = "oidc"
  issuer        = %q
  client_id     = %q
  client_secret = %q
  redirect_url  = %q
  app           = "portal"
}
`, z.issuer, zitadelClientID, zitadelClientSecret, callback))

	browser := zitadelBrowser(w)
	res, err := browser.Get(w.base + "/auth/oauth/zitadel/login?next=/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	res.Body.Close()
	if !strings.HasPrefix(res.Request.URL.String(), callback+"?") || res.Request.URL.Query().Get("error") != "unauthorized_client" {
		t.Fatalf("the OP sent the browser to %s, want gatehouse's callback with error=unauthorized_client", res.Request.URL)
	}
	if res.StatusCode != http.StatusBadGateway {
		t.Fatalf("callback with the OP's error: %d %s, want 502", res.StatusCode, b)
	}
	// The access log has the reason; a WARN line names the block and
	// carries the OP's error and description.
	w.proc.waitFor(t, "the callback's access log line", func(l map[string]any) bool {
		return l["path"] == "/auth/oauth/zitadel/callback" && l["reason"] == "oauth_provider_error" && l["status"] == float64(502)
	})
	w.proc.waitFor(t, "the provider error's WARN line", func(l map[string]any) bool {
		desc, _ := l["error_description"].(string)
		return l["level"] == "WARN" && l["oauth"] == "zitadel" && l["error"] == "unauthorized_client" &&
			strings.Contains(desc, "response type is missing")
	})
	if got := z.tokenAuthsSeen(); len(got) != 0 {
		t.Errorf("token requests after a provider error: %v", got)
	}
}

// The OP requires its issuer as the audience of client assertions; with
// the default (the token endpoint) it refuses the exchange, and gatehouse
// reports the OP's answer to that one request.
func TestAuthE2E_ZitadelAssertionAudience(t *testing.T) {
	zitadelKey, zitadelKeyPEM := newZitadelKey(t)
	port := freePort(t)
	callback := fmt.Sprintf("http://127.0.0.1:%d/auth/oauth/zitadel/callback", port)
	z := startZitadelOP(t, zitadelSetup{method: oidc.AuthMethodPrivateKeyJWT, clientKey: &zitadelKey.PublicKey, redirectURIs: []string{callback}})
	w := startAuthWorld(t, port, fmt.Sprintf(`
oauth "zitadel" {
  provider                   = "oidc"
  issuer                     = %q
  client_id                  = %q
  token_endpoint_auth_method = "private_key_jwt"
  private_key_id             = %q
  private_key                = <<EOT
%sEOT
  redirect_url               = %q
  app                        = "portal"
}
`, z.issuer, zitadelClientID, zitadelKeyID, zitadelKeyPEM, callback))

	res := zitadelLogin(t, w, z, zitadelBrowser(w), "zitadel", "/", z.username(1), zitadelPassword)
	if res.StatusCode != http.StatusBadGateway || !strings.HasPrefix(res.Request.URL.String(), callback+"?") {
		t.Fatalf("callback: %d at %s, want 502", res.StatusCode, res.Request.URL)
	}
	if got := z.tokenAuthsSeen(); len(got) != 1 || got[0] != "jwt" {
		t.Fatalf("token requests %q, want one with an assertion", got)
	}
	w.proc.waitFor(t, "the refused exchange", func(l map[string]any) bool {
		e, _ := l["error"].(string)
		return l["reason"] == "oauth_failed" && strings.Contains(e, "token exchange failed") && strings.Contains(e, "udience")
	})
}
