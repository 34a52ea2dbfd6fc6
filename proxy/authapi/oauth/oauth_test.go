package oauth_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testidp"
	"github.com/gatehouse-dev/gatehouse/proxy/authapi/oauth"
)

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// result is what one login or callback request produced at "gatehouse".
type result struct {
	stage string // "begin" (only on failure) or "complete"
	id    oauth.Identity
	next  string
	err   error
}

// gatehouse plays the proxy: /auth/oauth/{name}/login calls Begin and
// /auth/oauth/{name}/callback calls Complete, reporting to results.
type gatehouse struct {
	t       *testing.T
	flows   *oauth.Flows
	base    string
	cfgs    map[string]oauth.Config
	results chan result
}

// newGatehouse starts the fake gatehouse on 127.0.0.1. mk builds the
// provider blocks from the base URL.
func newGatehouse(t *testing.T, opts oauth.Options, mk func(base string) []oauth.Config) *gatehouse {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gatehouse{
		t:       t,
		flows:   oauth.NewFlows(opts),
		base:    "http://" + l.Addr().String(),
		cfgs:    map[string]oauth.Config{},
		results: make(chan result, 64),
	}
	for _, c := range mk(g.base) {
		g.cfgs[c.Name] = c
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /auth/oauth/{name}/login", func(w http.ResponseWriter, r *http.Request) {
		cfg, ok := g.cfgs[r.PathValue("name")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if err := g.flows.Begin(r.Context(), w, r, cfg, r.URL.Query().Get("next"), false); err != nil {
			g.results <- result{stage: "begin", err: err}
			http.Error(w, "login failed", http.StatusBadRequest)
		}
	})
	mux.HandleFunc("GET /auth/oauth/{name}/callback", func(w http.ResponseWriter, r *http.Request) {
		cfg, ok := g.cfgs[r.PathValue("name")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		id, next, err := g.flows.Complete(r.Context(), w, r, cfg, remoteAddr(r), false)
		g.results <- result{stage: "complete", id: id, next: next, err: err}
		if err != nil {
			http.Error(w, "login failed", http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte("welcome"))
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return g
}

// oidcBlock is an `oauth "name"` block for idp, registered there.
func oidcBlock(idp *testidp.IdP, base, name, provider string) oauth.Config {
	redirect := base + "/auth/oauth/" + name + "/callback"
	idp.Register(idp.ClientID(), idp.ClientSecret(), redirect)
	return oauth.Config{
		Name:         name,
		Provider:     provider,
		ClientID:     idp.ClientID(),
		ClientSecret: idp.ClientSecret(),
		RedirectURL:  redirect,
		Issuer:       idp.Issuer(),
	}
}

// apiBlock is a github- or facebook-style block for idp.
func apiBlock(idp *testidp.IdP, base, name, provider string) oauth.Config {
	c := oidcBlock(idp, base, name, provider)
	c.Issuer = ""
	c.AuthURL = idp.URL() + "/authorize"
	c.TokenURL = idp.URL() + "/token"
	c.APIURL = idp.URL()
	if provider == oauth.ProviderGitHub {
		c.APIURL += "/api"
	}
	return c
}

func (g *gatehouse) result() result {
	g.t.Helper()
	select {
	case r := <-g.results:
		return r
	case <-time.After(10 * time.Second):
		g.t.Fatal("no result from gatehouse")
		return result{}
	}
}

func (g *gatehouse) loginURL(name, next string) string {
	return g.base + "/auth/oauth/" + name + "/login?next=" + url.QueryEscape(next)
}

// browser is an http.Client with a cookie jar that follows redirects,
// optionally stopping before the callback.
type browser struct {
	t        *testing.T
	client   *http.Client
	jar      *cookiejar.Jar
	stop     bool
	callback *url.URL
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, jar: jar}
	b.client = &http.Client{
		Jar:     jar,
		Timeout: 10 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > 10 {
				return errors.New("too many redirects")
			}
			if strings.HasSuffix(req.URL.Path, "/callback") {
				u := *req.URL
				b.callback = &u
				if b.stop {
					return http.ErrUseLastResponse
				}
			}
			return nil
		},
	}
	return b
}

func (b *browser) get(u string, extra ...*http.Cookie) int {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range extra {
		req.AddCookie(c)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// login runs a whole login and returns gatehouse's result.
func (g *gatehouse) login(b *browser, name, next string) result {
	g.t.Helper()
	b.stop = false
	b.get(g.loginURL(name, next))
	return g.result()
}

// start runs a login up to the provider's redirect to the callback and
// returns the callback URL and the binding cookie, without calling it.
func (g *gatehouse) start(b *browser, name string) (*url.URL, *http.Cookie) {
	g.t.Helper()
	b.stop = true
	b.callback = nil
	b.get(g.loginURL(name, "/"))
	if b.callback == nil {
		g.t.Fatalf("no redirect to the callback (result %+v)", g.result())
	}
	return b.callback, b.cookie(name)
}

func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse("http://" + b.callbackHost() + "/auth/oauth/" + name + "/callback")
	for _, c := range b.jar.Cookies(u) {
		if c.Name == oauth.CookieName(name) {
			return c
		}
	}
	return nil
}

func (b *browser) callbackHost() string {
	if b.callback == nil {
		b.t.Fatal("no callback seen")
	}
	return b.callback.Host
}

// standard sets up an IdP and a gatehouse with oidc blocks "test" and
// "other".
func standard(t *testing.T, opts oauth.Options) (*testidp.IdP, *gatehouse) {
	t.Helper()
	idp := testidp.New(t)
	g := newGatehouse(t, opts, func(base string) []oauth.Config {
		return []oauth.Config{
			oidcBlock(idp, base, "test", oauth.ProviderOIDC),
			oidcBlock(idp, base, "other", oauth.ProviderOIDC),
		}
	})
	return idp, g
}

func wantIdentity(t *testing.T, r result, want oauth.Identity, next string) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("%s: %v", r.stage, r.err)
	}
	if r.id != want || r.next != next {
		t.Fatalf("got %+v next %q, want %+v next %q", r.id, r.next, want, next)
	}
}

func wantErr(t *testing.T, r result, target error, detail string) {
	t.Helper()
	if !errors.Is(r.err, target) {
		t.Fatalf("%s: error %v, want %v", r.stage, r.err, target)
	}
	if !strings.Contains(r.err.Error(), detail) {
		t.Fatalf("error %q does not mention %q", r.err, detail)
	}
	if r.id != (oauth.Identity{}) || r.next != "" {
		t.Fatalf("failed login returned %+v %q", r.id, r.next)
	}
}

var alice = oauth.Identity{
	Provider: oauth.ProviderOIDC, Subject: testidp.DefaultSubject,
	Email: testidp.DefaultEmail, EmailVerified: true, Name: testidp.DefaultName,
}

func TestOIDCLogin(t *testing.T) {
	idp, g := standard(t, oauth.Options{})
	b := newBrowser(t)
	wantIdentity(t, g.login(b, "test", "/dash?x=1#top"), alice, "/dash?x=1#top")

	q := idp.LastAuthorizeQuery()
	form, _ := idp.LastTokenRequest()
	sum := sha256.Sum256([]byte(form.Get("code_verifier")))
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") != base64.RawURLEncoding.EncodeToString(sum[:]) {
		t.Fatalf("PKCE: authorize %v, verifier %q", q, form.Get("code_verifier"))
	}
	if len(q.Get("nonce")) < 43 || len(q.Get("state")) < 43 || q.Get("state") == q.Get("nonce") {
		t.Fatalf("nonce %q, state %q", q.Get("nonce"), q.Get("state"))
	}
	if q.Get("scope") != "openid email profile" || q.Get("redirect_uri") != g.cfgs["test"].RedirectURL || q.Get("response_type") != "code" {
		t.Fatalf("authorize query: %v", q)
	}
	if idp.TokenRequests() != 1 || idp.UserinfoRequests() != 0 {
		t.Fatalf("token requests %d, userinfo requests %d", idp.TokenRequests(), idp.UserinfoRequests())
	}
	if c := b.cookie("test"); c != nil {
		t.Fatalf("binding cookie not cleared: %v", c)
	}
	if n := g.flows.Used(); n != 1 {
		t.Fatalf("%d used states remembered, want 1", n)
	}

	// A second login reuses the discovered provider and its keys.
	wantIdentity(t, g.login(b, "test", ""), alice, "/")
	if n := idp.DiscoveryRequests(); n != 1 {
		t.Fatalf("%d discovery requests, want 1", n)
	}
}

func TestGoogleLogin(t *testing.T) {
	idp := testidp.New(t)
	g := newGatehouse(t, oauth.Options{}, func(base string) []oauth.Config {
		c := oidcBlock(idp, base, "google", oauth.ProviderGoogle)
		return []oauth.Config{c}
	})
	want := alice
	want.Provider = oauth.ProviderGoogle
	wantIdentity(t, g.login(newBrowser(t), "google", "/g"), want, "/g")
	if q := idp.LastAuthorizeQuery(); q.Get("nonce") == "" || q.Get("scope") != "openid email profile" {
		t.Fatalf("authorize query: %v", q)
	}
}

func TestReplayedCallback(t *testing.T) {
	idp, g := standard(t, oauth.Options{})
	b := newBrowser(t)
	cb, cookie := g.start(b, "test")
	if cookie == nil {
		t.Fatal("no binding cookie")
	}
	b.stop = false
	if code := b.get(cb.String()); code != http.StatusOK {
		t.Fatalf("callback: %d", code)
	}
	wantIdentity(t, g.result(), alice, "/")

	// Same URL, same cookie (put back by hand): the state is used up.
	if code := b.get(cb.String(), cookie); code != http.StatusForbidden {
		t.Fatalf("replay: %d", code)
	}
	wantErr(t, g.result(), oauth.ErrBadState, "unknown or already used")
	if n := idp.TokenRequests(); n != 1 {
		t.Fatalf("replay reached the token endpoint (%d requests)", n)
	}
}

func TestCallbackFromAnotherBrowser(t *testing.T) {
	idp, g := standard(t, oauth.Options{})
	victim := newBrowser(t)
	cb, _ := g.start(victim, "test")

	attacker := newBrowser(t)
	attacker.get(cb.String())
	wantErr(t, g.result(), oauth.ErrBadState, "binding cookie missing")

	// The first attempt consumed the state: the rightful browser fails too.
	victim.stop = false
	victim.get(cb.String())
	wantErr(t, g.result(), oauth.ErrBadState, "unknown or already used")
	if n := idp.TokenRequests(); n != 0 {
		t.Fatalf("%d token requests", n)
	}
}

func TestCallbackWithWrongCookie(t *testing.T) {
	_, g := standard(t, oauth.Options{})
	b := newBrowser(t)
	cb, cookie := g.start(b, "test")
	forged := *cookie
	forged.Value = strings.Repeat("A", len(cookie.Value))
	other := newBrowser(t)
	other.get(cb.String(), &forged)
	wantErr(t, g.result(), oauth.ErrBadState, "binding cookie does not match")
}

func TestStateOfAnotherBlock(t *testing.T) {
	_, g := standard(t, oauth.Options{})
	b := newBrowser(t)
	cb, cookie := g.start(b, "other")
	// Deliver the "other" state and code to "test", with "other"'s binding
	// cookie value under "test"'s cookie name: only the name differs.
	moved := *cb
	moved.Path = "/auth/oauth/test/callback"
	c := &http.Cookie{Name: oauth.CookieName("test"), Value: cookie.Value}
	fresh := newBrowser(t)
	fresh.get(moved.String(), c)
	wantErr(t, g.result(), oauth.ErrBadState, "another provider block")
}

func TestExpiredState(t *testing.T) {
	clk := newClock()
	idp, g := standard(t, oauth.Options{Now: clk.Now, StateTTL: 5 * time.Minute})
	b := newBrowser(t)
	cb, _ := g.start(b, "test")
	clk.Advance(5*time.Minute + time.Second)
	b.stop = false
	b.get(cb.String())
	wantErr(t, g.result(), oauth.ErrBadState, "expired")
	if n := idp.TokenRequests(); n != 0 {
		t.Fatalf("%d token requests", n)
	}
}

func TestRejectedIDTokens(t *testing.T) {
	idp, g := standard(t, oauth.Options{})
	cases := []struct {
		name   string
		knob   func()
		detail string
	}{
		{"WrongNonce", idp.WrongNonce, "nonce mismatch"},
		{"WrongAudience", idp.WrongAudience, "audience"},
		{"WrongIssuer", idp.WrongIssuer, "issued by a different provider"},
		{"Expired", idp.Expired, "expired"},
		{"SignWithOtherKey", idp.SignWithOtherKey, "signature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := idp.TokenRequests()
			tc.knob()
			r := g.login(newBrowser(t), "test", "/x")
			wantErr(t, r, oauth.ErrProvider, tc.detail)
			if idp.TokenRequests() != before+1 {
				t.Fatal("no code exchange")
			}
			noSecrets(t, idp, r.err)
			// The next login is fine again.
			wantIdentity(t, g.login(newBrowser(t), "test", "/x"), alice, "/x")
		})
	}
}

// noSecrets checks that err mentions neither the client secret nor a JWT.
func noSecrets(t *testing.T, idp *testidp.IdP, err error) {
	t.Helper()
	msg := err.Error()
	if strings.Contains(msg, idp.ClientSecret()) || strings.Contains(msg, "eyJ") {
		t.Fatalf("error leaks a secret: %s", msg)
	}
}

func TestWrongClientSecret(t *testing.T) {
	idp := testidp.New(t)
	g := newGatehouse(t, oauth.Options{}, func(base string) []oauth.Config {
		c := oidcBlock(idp, base, "test", oauth.ProviderOIDC)
		c.ClientSecret = "wrong-secret-value"
		return []oauth.Config{c}
	})
	r := g.login(newBrowser(t), "test", "/")
	wantErr(t, r, oauth.ErrProvider, "invalid_client")
	if strings.Contains(r.err.Error(), "wrong-secret-value") {
		t.Fatalf("error leaks the secret: %v", r.err)
	}
	// Not retried with the other client authentication style.
	if n := idp.TokenRequests(); n != 1 {
		t.Fatalf("%d token requests, want 1", n)
	}
}

// A failed exchange is reported as the provider answered it, after one
// request: the code is spent, a second try would only fail differently.
func TestExchangeFailsOnce(t *testing.T) {
	for _, method := range []string{"", oauth.AuthClientSecretBasic, oauth.AuthClientSecretPost} {
		t.Run("method "+method, func(t *testing.T) {
			idp := testidp.New(t)
			g := newGatehouse(t, oauth.Options{}, func(base string) []oauth.Config {
				c := oidcBlock(idp, base, "test", oauth.ProviderOIDC)
				c.TokenAuthMethod = method
				return []oauth.Config{c}
			})
			idp.FailToken("invalid_grant")
			wantErr(t, g.login(newBrowser(t), "test", "/"), oauth.ErrProvider, `"invalid_grant" ("failed on request")`)
			if n := idp.TokenRequests(); n != 1 {
				t.Fatalf("%d token requests, want 1", n)
			}
		})
	}
}

// Each token endpoint auth method authenticates the way it says, and
// only that way; the default follows the discovery document.
func TestTokenAuthMethods(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	all := []string{testidp.AuthBasic, testidp.AuthPost, testidp.AuthPrivateKeyJWT}
	for _, tc := range []struct {
		name      string
		supported []string
		method    string
		key       crypto.Signer
		kid       string
		want      string // method seen by the IdP; "" = the exchange fails
		alg       string
		warn      bool
	}{
		{"default", nil, "", nil, "", testidp.AuthBasic, "", false},
		{"default, discovery without basic", []string{testidp.AuthPost}, "", nil, "", testidp.AuthPost, "", false},
		{"basic", nil, oauth.AuthClientSecretBasic, nil, "", testidp.AuthBasic, "", false},
		{"post", nil, oauth.AuthClientSecretPost, nil, "", testidp.AuthPost, "", false},
		{"private_key_jwt RS256 with kid", all, oauth.AuthPrivateKeyJWT, rsaKey, "key-1", testidp.AuthPrivateKeyJWT, "RS256", false},
		{"private_key_jwt ES256", all, oauth.AuthPrivateKeyJWT, ecKey, "", testidp.AuthPrivateKeyJWT, "ES256", false},
		{"basic, provider only post", []string{testidp.AuthPost}, oauth.AuthClientSecretBasic, nil, "", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []testidp.Option
			if tc.supported != nil {
				opts = append(opts, testidp.AuthMethods(tc.supported...))
			}
			idp := testidp.New(t, opts...)
			idp.RegisterClientKey(idp.ClientID(), &rsaKey.PublicKey)
			if tc.key == ecKey {
				idp.RegisterClientKey(idp.ClientID(), &ecKey.PublicKey)
			}
			var logBuf syncBuffer
			g := newGatehouse(t, oauth.Options{Logger: slog.New(slog.NewJSONHandler(&logBuf, nil))}, func(base string) []oauth.Config {
				c := oidcBlock(idp, base, "test", oauth.ProviderOIDC)
				c.TokenAuthMethod, c.PrivateKey, c.PrivateKeyID = tc.method, tc.key, tc.kid
				if tc.key != nil {
					c.ClientSecret = ""
				}
				return []oauth.Config{c}
			})
			b := newBrowser(t)
			for range 2 {
				r := g.login(b, "test", "/")
				if tc.want == "" {
					wantErr(t, r, oauth.ErrProvider, "invalid_client")
					continue
				}
				wantIdentity(t, r, alice, "/")
				method, header := idp.LastTokenAuth()
				if method != tc.want {
					t.Fatalf("IdP saw %q, want %q", method, tc.want)
				}
				if tc.alg != "" && (header["alg"] != tc.alg || (tc.kid == "") != (header["kid"] == nil) || tc.kid != "" && header["kid"] != tc.kid) {
					t.Fatalf("assertion header %v, want alg %s kid %q", header, tc.alg, tc.kid)
				}
				if form, _ := idp.LastTokenRequest(); tc.key != nil && form.Has("client_secret") {
					t.Fatalf("private_key_jwt sent a client_secret")
				}
			}
			if n := idp.TokenRequests(); n != 2 {
				t.Fatalf("%d token requests, want 2", n)
			}
			if warned := strings.Count(logBuf.String(), "does not list the token endpoint auth method"); warned != map[bool]int{true: 1}[tc.warn] {
				t.Fatalf("%d warnings, want one: %v: %s", warned, tc.warn, logBuf.String())
			}
		})
	}
}

// An assertion signed by a key the provider does not know is refused.
func TestPrivateKeyJWTUnknownKey(t *testing.T) {
	registered, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	idp := testidp.New(t, testidp.AuthMethods(testidp.AuthPrivateKeyJWT))
	idp.RegisterClientKey(idp.ClientID(), &registered.PublicKey)
	g := newGatehouse(t, oauth.Options{}, func(base string) []oauth.Config {
		c := oidcBlock(idp, base, "test", oauth.ProviderOIDC)
		c.TokenAuthMethod, c.PrivateKey, c.ClientSecret = oauth.AuthPrivateKeyJWT, other, ""
		return []oauth.Config{c}
	})
	wantErr(t, g.login(newBrowser(t), "test", "/"), oauth.ErrProvider, "invalid_client")
}

// Unusable methods and keys are configuration errors, before the
// provider is asked.
func TestTokenAuthMethodConfigErrors(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	f := oauth.NewFlows(oauth.Options{})
	for _, tc := range []struct {
		method string
		key    crypto.Signer
		detail string
	}{
		{"client_secret_jwt", nil, "unknown token endpoint auth method"},
		{oauth.AuthPrivateKeyJWT, nil, "needs a private key"},
		{oauth.AuthPrivateKeyJWT, small, "1024 bits"},
		{oauth.AuthPrivateKeyJWT, p384, "P-384"},
		{oauth.AuthPrivateKeyJWT, ed, "ed25519"},
	} {
		cfg := githubBlock()
		cfg.TokenAuthMethod, cfg.PrivateKey = tc.method, tc.key
		_, err := begin(t, f, cfg, "/", true)
		if !errors.Is(err, oauth.ErrConfig) || !strings.Contains(err.Error(), tc.detail) {
			t.Errorf("%s %T: %v, want ErrConfig with %q", tc.method, tc.key, err, tc.detail)
		}
	}
}

// Every error code of RFC 6749 4.1.2.1 and OIDC Core 3.1.2.6 on the
// callback, from the test IdP: its class, its description in the error,
// a WARN line for those that say the client or request is wrong, and no
// token request.
func TestProviderErrors(t *testing.T) {
	var logBuf syncBuffer
	idp, g := standard(t, oauth.Options{Logger: slog.New(slog.NewJSONHandler(&logBuf, nil))})
	for _, tc := range []struct {
		code   string
		kind   error
		config bool
	}{
		{"access_denied", oauth.ErrDenied, false},
		{"login_required", oauth.ErrInteraction, false},
		{"consent_required", oauth.ErrInteraction, false},
		{"interaction_required", oauth.ErrInteraction, false},
		{"account_selection_required", oauth.ErrInteraction, false},
		{"invalid_request", oauth.ErrRefused, true},
		{"unauthorized_client", oauth.ErrRefused, true},
		{"unsupported_response_type", oauth.ErrRefused, true},
		{"invalid_scope", oauth.ErrRefused, true},
		{"invalid_request_object", oauth.ErrRefused, true},
		{"server_error", oauth.ErrRefused, false},
		{"temporarily_unavailable", oauth.ErrRefused, false},
		{"something_new", oauth.ErrRefused, false},
	} {
		t.Run(tc.code, func(t *testing.T) {
			logBuf.Reset()
			desc := "because " + tc.code
			idp.DenyWithDescription(tc.code, desc)
			r := g.login(newBrowser(t), "test", "/")
			wantErr(t, r, tc.kind, fmt.Sprintf("error=%q error_description=%q", tc.code, desc))
			var ce *oauth.CallbackError
			if !errors.As(r.err, &ce) || ce.Code != tc.code || ce.Description != desc || ce.Config != tc.config {
				t.Fatalf("CallbackError %+v", ce)
			}
			for _, other := range []error{oauth.ErrDenied, oauth.ErrInteraction, oauth.ErrRefused, oauth.ErrProvider} {
				if other != tc.kind && errors.Is(r.err, other) {
					t.Fatalf("%v is also %v", r.err, other)
				}
			}
			logged := logBuf.String()
			if warned := strings.Contains(logged, `"level":"WARN"`) && strings.Contains(logged, `"error_description":"`+desc+`"`); warned != tc.config {
				t.Fatalf("WARN logged %v, want %v: %s", warned, tc.config, logged)
			}
		})
	}
	if n := idp.TokenRequests(); n != 0 {
		t.Fatalf("%d token requests", n)
	}
}

// The description is bounded and loses its control characters; a
// callback without one says nothing about it.
func TestProviderErrorDescription(t *testing.T) {
	idp, g := standard(t, oauth.Options{})
	idp.DenyWithDescription("access_denied", "line1\r\nline2\x00\t\u00e9"+strings.Repeat("x", 500))
	r := g.login(newBrowser(t), "test", "/")
	var ce *oauth.CallbackError
	if !errors.As(r.err, &ce) {
		t.Fatalf("error %v", r.err)
	}
	if want := "line1line2??" + strings.Repeat("x", 200-12); ce.Description != want {
		t.Fatalf("description %q, want %q", ce.Description, want)
	}
	idp.DenyWithDescription("access_denied", "")
	r = g.login(newBrowser(t), "test", "/")
	if !errors.Is(r.err, oauth.ErrDenied) || strings.Contains(r.err.Error(), "error_description") {
		t.Fatalf("error %v", r.err)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

func TestUnverifiedEmail(t *testing.T) {
	idp, g := standard(t, oauth.Options{})
	idp.SetUser(testidp.User{Subject: "u-mallory", Email: "mallory@example.test", EmailVerified: false, Name: "Mallory"})
	want := oauth.Identity{Provider: oauth.ProviderOIDC, Subject: "u-mallory", Email: "mallory@example.test", Name: "Mallory"}
	wantIdentity(t, g.login(newBrowser(t), "test", "/"), want, "/")
}

func TestEmailFromUserinfo(t *testing.T) {
	idp, g := standard(t, oauth.Options{})
	idp.OmitEmailFromIDToken()
	wantIdentity(t, g.login(newBrowser(t), "test", "/"), alice, "/")
	if n := idp.UserinfoRequests(); n != 1 {
		t.Fatalf("%d userinfo requests", n)
	}
}

func TestDiscoveryErrorsNotCached(t *testing.T) {
	idp, g := standard(t, oauth.Options{})
	idp.FailDiscovery(1)
	b := newBrowser(t)
	r := g.login(b, "test", "/")
	if r.stage != "begin" {
		t.Fatalf("stage %q", r.stage)
	}
	wantErr(t, r, oauth.ErrProvider, "discovery")
	wantIdentity(t, g.login(b, "test", "/"), alice, "/")
	wantIdentity(t, g.login(b, "test", "/"), alice, "/")
	if n := idp.DiscoveryRequests(); n != 2 {
		t.Fatalf("%d discovery requests, want 2", n)
	}
}

func TestKeyRotation(t *testing.T) {
	idp, g := standard(t, oauth.Options{})
	b := newBrowser(t)
	wantIdentity(t, g.login(b, "test", "/"), alice, "/")
	idp.RotateKey(t)
	wantIdentity(t, g.login(b, "test", "/"), alice, "/")
}

func TestGitHubLogin(t *testing.T) {
	idp := testidp.New(t)
	g := newGatehouse(t, oauth.Options{}, func(base string) []oauth.Config {
		return []oauth.Config{apiBlock(idp, base, "gh", oauth.ProviderGitHub)}
	})
	want := oauth.Identity{
		Provider: oauth.ProviderGitHub, Subject: "123",
		Email: testidp.DefaultEmail, EmailVerified: true, Name: testidp.DefaultName,
	}
	wantIdentity(t, g.login(newBrowser(t), "gh", "/repo"), want, "/repo")
	q := idp.LastAuthorizeQuery()
	if q.Get("code_challenge_method") != "S256" || q.Has("nonce") || q.Get("scope") != "read:user user:email" {
		t.Fatalf("authorize query: %v", q)
	}

	// An unverified primary address is reported as such, not replaced by
	// the verified secondary one.
	idp.SetUser(testidp.User{Subject: "u-alice", Email: "new@example.test", EmailVerified: false, Name: ""})
	want = oauth.Identity{Provider: oauth.ProviderGitHub, Subject: "123", Email: "new@example.test", Name: "new"}
	wantIdentity(t, g.login(newBrowser(t), "gh", "/"), want, "/")
}

func TestFacebookLogin(t *testing.T) {
	idp := testidp.New(t)
	g := newGatehouse(t, oauth.Options{}, func(base string) []oauth.Config {
		return []oauth.Config{apiBlock(idp, base, "fb", oauth.ProviderFacebook)}
	})
	idp.SetUser(testidp.User{Subject: "10001", Email: "fb@example.test", Name: "Fay"})
	want := oauth.Identity{Provider: oauth.ProviderFacebook, Subject: "10001", Email: "fb@example.test", EmailVerified: true, Name: "Fay"}
	wantIdentity(t, g.login(newBrowser(t), "fb", "/"), want, "/")
	if q := idp.LastAuthorizeQuery(); q.Get("scope") != "email public_profile" || q.Get("code_challenge_method") != "S256" {
		t.Fatalf("authorize query: %v", q)
	}
}

func TestConcurrentLogins(t *testing.T) {
	_, g := standard(t, oauth.Options{})
	const n = 8
	var wg sync.WaitGroup
	codes := make(chan int, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
			resp, err := c.Get(g.loginURL("test", "/"))
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != http.StatusOK {
			t.Errorf("status %d", code)
		}
	}
	for range n {
		wantIdentity(t, g.result(), alice, "/")
	}
}

// githubBlock is a block whose Begin needs no network.
func githubBlock() oauth.Config {
	return oauth.Config{
		Name: "test", Provider: oauth.ProviderGitHub, ClientID: "cid", ClientSecret: "shh",
		RedirectURL: "https://gate.example.test/auth/oauth/test/callback",
	}
}

func begin(t *testing.T, f *oauth.Flows, cfg oauth.Config, next string, secure bool) (*httptest.ResponseRecorder, error) {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "https://gate.example.test/auth/oauth/test/login", nil)
	return w, f.Begin(context.Background(), w, r, cfg, next, secure)
}

func TestBeginResponse(t *testing.T) {
	for _, secure := range []bool{true, false} {
		f := oauth.NewFlows(oauth.Options{})
		w, err := begin(t, f, githubBlock(), "/after", secure)
		if err != nil {
			t.Fatal(err)
		}
		resp := w.Result()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
		}
		cookies := resp.Cookies()
		if len(cookies) != 1 {
			t.Fatalf("cookies: %v", cookies)
		}
		c := cookies[0]
		if c.Name != "gatehouse_oauth_test" || len(c.Value) < 43 || c.Path != "/auth/oauth/" || c.MaxAge != 600 ||
			!c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != secure {
			t.Fatalf("cookie: %+v (raw %q)", c, resp.Header.Get("Set-Cookie"))
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		q := loc.Query()
		if loc.Host != "github.com" || q.Get("client_id") != "cid" || q.Get("redirect_uri") != githubBlock().RedirectURL ||
			q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || len(q.Get("state")) < 43 ||
			q.Has("nonce") || q.Get("response_type") != "code" {
			t.Fatalf("Location %s", loc)
		}
		if strings.Contains(loc.String(), "shh") || strings.Contains(loc.String(), c.Value) {
			t.Fatal("secret or binding cookie in the authorization URL")
		}
		if len(c.Value) > 1000 {
			t.Fatalf("binding cookie of %d bytes", len(c.Value))
		}
		for _, secret := range []string{q.Get("state"), q.Get("code_challenge"), "/after"} {
			if strings.Contains(c.Value, secret) {
				t.Fatalf("binding cookie shows %q in the clear", secret)
			}
		}
	}
}

func TestBeginRejectsBadNext(t *testing.T) {
	f := oauth.NewFlows(oauth.Options{})
	w, err := begin(t, f, githubBlock(), "//evil.example", false)
	if !errors.Is(err, oauth.ErrBadNext) {
		t.Fatalf("err = %v", err)
	}
	if len(w.Result().Header) != 0 {
		t.Fatalf("headers %v", w.Result().Header)
	}
}

func TestBeginConfigErrors(t *testing.T) {
	f := oauth.NewFlows(oauth.Options{})
	for name, mutate := range map[string]func(*oauth.Config){
		"unknown provider": func(c *oauth.Config) { c.Provider = "myspace" },
		"oidc no issuer":   func(c *oauth.Config) { c.Provider = oauth.ProviderOIDC },
		"no client id":     func(c *oauth.Config) { c.ClientID = "" },
		"no redirect":      func(c *oauth.Config) { c.RedirectURL = "" },
	} {
		cfg := githubBlock()
		mutate(&cfg)
		if _, err := begin(t, f, cfg, "/", false); !errors.Is(err, oauth.ErrConfig) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// TestLongestNextFitsTheCookie: the binding cookie of the longest return
// path SafeNext accepts, of characters JSON might escape, stays within the
// 4096 bytes browsers keep, and opens again.
func TestLongestNextFitsTheCookie(t *testing.T) {
	f := oauth.NewFlows(oauth.Options{})
	cfg := githubBlock()
	begun, err := begin(t, f, cfg, "/"+strings.Repeat("&", oauth.MaxNextLen-1), true)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(begun.Result().Header.Get("Set-Cookie")); n > 4000 {
		t.Fatalf("Set-Cookie of %d bytes", n)
	}
	_, _, err = f.Complete(context.Background(), httptest.NewRecorder(), callback(t, begun, url.Values{"error": {"access_denied"}}), cfg, testClient, true)
	if !errors.Is(err, oauth.ErrDenied) {
		t.Fatalf("err = %v", err)
	}
}

// TestLoginFlood: pending logins take no memory, so a flood of login
// starts and of made-up callbacks never stops a real login, and the
// memory of used states stays bounded.
func TestLoginFlood(t *testing.T) {
	f := oauth.NewFlows(oauth.Options{MaxUsed: 100})
	for i := range 20000 {
		if _, err := begin(t, f, githubBlock(), "/", false); err != nil {
			t.Fatalf("begin %d: %v", i, err)
		}
	}
	begun, err := begin(t, f, githubBlock(), "/", true)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		r := httptest.NewRequest(http.MethodGet, fmt.Sprintf("https://gate.example.test/auth/oauth/test/callback?state=junk%d&code=c", i), nil)
		if _, _, err := f.Complete(context.Background(), httptest.NewRecorder(), r, githubBlock(), testClient, true); !errors.Is(err, oauth.ErrBadState) {
			t.Fatalf("made-up callback %d: %v", i, err)
		}
	}
	if n := f.Used(); n != 100 {
		t.Fatalf("%d used states remembered, want MaxUsed = 100", n)
	}
	// The real login's callback still passes every state check; the
	// provider's error parameter then ends it before any network call.
	w := httptest.NewRecorder()
	_, _, err = f.Complete(context.Background(), w, callback(t, begun, url.Values{"error": {"access_denied"}}), githubBlock(), testClient, true)
	if !errors.Is(err, oauth.ErrDenied) {
		t.Fatalf("real login after the flood: %v", err)
	}
}

// TestUsedStatesExpire: a state is remembered as long as its login could
// last, then forgotten.
func TestUsedStatesExpire(t *testing.T) {
	clk := newClock()
	f := oauth.NewFlows(oauth.Options{StateTTL: time.Minute, Now: clk.Now})
	for i := range 3 {
		r := httptest.NewRequest(http.MethodGet, fmt.Sprintf("https://gate.example.test/auth/oauth/test/callback?state=s%d", i), nil)
		_, _, _ = f.Complete(context.Background(), httptest.NewRecorder(), r, githubBlock(), testClient, true)
	}
	if n := f.Used(); n != 3 {
		t.Fatalf("Used = %d, want 3", n)
	}
	clk.Advance(time.Minute)
	r := httptest.NewRequest(http.MethodGet, "https://gate.example.test/auth/oauth/test/callback?state=later", nil)
	_, _, _ = f.Complete(context.Background(), httptest.NewRecorder(), r, githubBlock(), testClient, true)
	if n := f.Used(); n != 1 {
		t.Fatalf("Used = %d, want the expired ones forgotten", n)
	}
}

// TestSealedCookieFromAnotherProcess: a binding cookie sealed by another
// key (another gatehouse process, or a forgery) is refused.
func TestSealedCookieFromAnotherProcess(t *testing.T) {
	a := oauth.NewFlows(oauth.Options{})
	b := oauth.NewFlows(oauth.Options{})
	begun, err := begin(t, a, githubBlock(), "/", true)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = b.Complete(context.Background(), httptest.NewRecorder(), callback(t, begun, url.Values{"code": {"c"}}), githubBlock(), testClient, true)
	if !errors.Is(err, oauth.ErrBadState) || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("err = %v", err)
	}
	// The same key opens it (a shared Options.Key).
	key := bytes.Repeat([]byte{7}, 32)
	c := oauth.NewFlows(oauth.Options{Key: key})
	d := oauth.NewFlows(oauth.Options{Key: key})
	begun, err = begin(t, c, githubBlock(), "/", true)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = d.Complete(context.Background(), httptest.NewRecorder(), callback(t, begun, url.Values{"error": {"access_denied"}}), githubBlock(), testClient, true)
	if !errors.Is(err, oauth.ErrDenied) {
		t.Fatalf("same key: %v", err)
	}
}

// callback builds the provider's redirect back for a recorded Begin.
func callback(t *testing.T, begun *httptest.ResponseRecorder, query url.Values) *http.Request {
	t.Helper()
	loc, err := url.Parse(begun.Result().Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if !query.Has("state") {
		query.Set("state", loc.Query().Get("state"))
	}
	r := httptest.NewRequest(http.MethodGet, "https://gate.example.test/auth/oauth/test/callback?"+query.Encode(), nil)
	for _, c := range begun.Result().Cookies() {
		r.AddCookie(c)
	}
	return r
}

func TestCompleteChecks(t *testing.T) {
	f := oauth.NewFlows(oauth.Options{})
	complete := func(cfg oauth.Config, q url.Values) error {
		begun, err := begin(t, f, githubBlock(), "/", true)
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		_, _, err = f.Complete(context.Background(), w, callback(t, begun, q), cfg, testClient, true)
		// The binding cookie is cleared whatever happened.
		cs := w.Result().Cookies()
		if len(cs) != 1 || cs[0].Name != "gatehouse_oauth_test" || cs[0].MaxAge != -1 || cs[0].Path != "/auth/oauth/" || !cs[0].Secure {
			t.Fatalf("cleared cookie: %v", cs)
		}
		return err
	}

	changed := githubBlock()
	changed.ClientID = "another-client"
	if err := complete(changed, url.Values{"code": {"c"}}); !errors.Is(err, oauth.ErrBadState) || !strings.Contains(err.Error(), "configuration changed") {
		t.Errorf("changed config: %v", err)
	}
	rotated := githubBlock()
	rotated.ClientSecret = "rotated" // a new secret does not invalidate logins
	if err := complete(rotated, url.Values{}); !errors.Is(err, oauth.ErrProvider) || !strings.Contains(err.Error(), "without code") {
		t.Errorf("no code: %v", err)
	}
	if err := complete(githubBlock(), url.Values{"error": {"server_error\r\nX-Injected: 1"}}); !errors.Is(err, oauth.ErrRefused) || strings.ContainsAny(err.Error(), "\r\n") {
		t.Errorf("error param: %v", err)
	}
	if err := complete(githubBlock(), url.Values{"state": {""}, "code": {"c"}}); !errors.Is(err, oauth.ErrBadState) {
		t.Errorf("empty state: %v", err)
	}
	if err := complete(githubBlock(), url.Values{"state": {"made-up"}, "code": {"c"}}); !errors.Is(err, oauth.ErrBadState) {
		t.Errorf("made-up state: %v", err)
	}
}

func TestCookieName(t *testing.T) {
	if got := oauth.CookieName("corp-sso_2"); got != "gatehouse_oauth_corp-sso_2" {
		t.Errorf("plain name: %q", got)
	}
	a, b := oauth.CookieName("a.b"), oauth.CookieName("a_b")
	if a == b || !strings.HasPrefix(a, "gatehouse_oauth_a_b_") {
		t.Errorf("a.b → %q, a_b → %q", a, b)
	}
	for _, name := range []string{"", "x y", "é", "a;b=c", "a\r\nb"} {
		got := oauth.CookieName(name)
		for _, c := range []byte(got) {
			if !(c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				t.Errorf("%q → %q", name, got)
				break
			}
		}
	}
}

// testClient is the client address of the tests' callbacks.
var testClient = netip.MustParseAddr("192.0.2.1")

// remoteAddr is the address of r's peer.
func remoteAddr(r *http.Request) netip.Addr {
	ap, _ := netip.ParseAddrPort(r.RemoteAddr)
	return ap.Addr()
}

// TestUsedStatesPerClient (issue 18, point 13): a flood of made-up
// callbacks from one address takes at most MaxUsedPerClient places, so it
// cannot push out another browser's used state (whose replay is then still
// refused before anything else); a flood from many addresses is bounded by
// MaxUsed, forgets the oldest, and never refuses a fresh login.
func TestUsedStatesPerClient(t *testing.T) {
	f := oauth.NewFlows(oauth.Options{MaxUsed: 1000, MaxUsedPerClient: 10})
	victim, attacker := netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("2001:db8:1:2::1")
	begun, err := begin(t, f, githubBlock(), "/", true)
	if err != nil {
		t.Fatal(err)
	}
	denied := func() url.Values { return url.Values{"error": {"access_denied"}} } // callback sets state in it
	if _, _, err := f.Complete(context.Background(), httptest.NewRecorder(), callback(t, begun, denied()), githubBlock(), victim, true); !errors.Is(err, oauth.ErrDenied) {
		t.Fatalf("victim's callback: %v", err)
	}
	junk := func(i int, from netip.Addr) {
		r := httptest.NewRequest(http.MethodGet, fmt.Sprintf("https://gate.example.test/auth/oauth/test/callback?state=junk%d&code=c", i), nil)
		if _, _, err := f.Complete(context.Background(), httptest.NewRecorder(), r, githubBlock(), from, true); !errors.Is(err, oauth.ErrBadState) {
			t.Fatalf("made-up callback %d: %v", i, err)
		}
	}
	for i := range 5000 {
		junk(i, attacker.Next()) // one /64: one client
	}
	if n := f.Used(); n != 11 {
		t.Errorf("%d used states remembered, want the victim's and the attacker's last 10", n)
	}
	if _, _, err := f.Complete(context.Background(), httptest.NewRecorder(), callback(t, begun, denied()), githubBlock(), victim, true); !errors.Is(err, oauth.ErrBadState) {
		t.Errorf("replayed callback after a one-address flood: got %v, want ErrBadState", err)
	}
	// Many addresses: bounded by MaxUsed, and a new login still passes.
	for i := range 3000 {
		junk(10000+i, netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
	}
	if n := f.Used(); n != 1000 {
		t.Errorf("%d used states remembered, want MaxUsed = 1000", n)
	}
	fresh, err := begin(t, f, githubBlock(), "/", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Complete(context.Background(), httptest.NewRecorder(), callback(t, fresh, denied()), githubBlock(), victim, true); !errors.Is(err, oauth.ErrDenied) {
		t.Errorf("a new login after the flood: got %v, want it to pass the state checks", err)
	}
}

// An issuer written with or without the provider's trailing slash logs in;
// the ID token's iss is checked against the provider's spelling.
func TestIssuerTrailingSlash(t *testing.T) {
	for _, tc := range []struct {
		name  string
		slash bool // the provider's issuer ends in "/"
		edit  func(string) string
	}{
		{"provider with slash, config without", true, func(s string) string { return strings.TrimSuffix(s, "/") }},
		{"provider without slash, config with", false, func(s string) string { return s + "/" }},
		{"both with slash", true, func(s string) string { return s }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []testidp.Option
			if tc.slash {
				opts = append(opts, testidp.TrailingSlashIssuer())
			}
			idp := testidp.New(t, opts...)
			g := newGatehouse(t, oauth.Options{}, func(base string) []oauth.Config {
				c := oidcBlock(idp, base, "test", oauth.ProviderOIDC)
				c.Issuer = tc.edit(idp.Issuer())
				return []oauth.Config{c}
			})
			b := newBrowser(t)
			wantIdentity(t, g.login(b, "test", "/"), alice, "/")
			// The ID token's iss must still be exactly the provider's.
			idp.WrongIssuer()
			wantErr(t, g.login(b, "test", "/"), oauth.ErrProvider, "id token rejected")
		})
	}
}

// Any other difference is an error that names both values.
func TestIssuerMismatch(t *testing.T) {
	idp := testidp.New(t)
	g := newGatehouse(t, oauth.Options{}, func(base string) []oauth.Config {
		c := oidcBlock(idp, base, "test", oauth.ProviderOIDC)
		c.Issuer = strings.Replace(idp.Issuer(), "127.0.0.1", "localhost", 1)
		return []oauth.Config{c}
	})
	r := g.login(newBrowser(t), "test", "/")
	if r.stage != "begin" {
		t.Fatalf("stage %q", r.stage)
	}
	wantErr(t, r, oauth.ErrProvider, fmt.Sprintf("write issuer = %q", idp.Issuer()))
	if !strings.Contains(r.err.Error(), strings.Replace(idp.Issuer(), "127.0.0.1", "localhost", 1)) {
		t.Fatalf("error does not name the configured issuer: %v", r.err)
	}
}

// The ID token's times are checked with Config.ClockSkew either way: a
// token slightly expired, not yet valid or issued slightly in the future
// passes within the leeway and fails beyond it.
func TestClockSkew(t *testing.T) {
	for _, tc := range []struct {
		name   string
		spoil  func(idp *testidp.IdP)
		skew   time.Duration
		detail string // "" = accepted
	}{
		{"on time, no leeway", func(*testidp.IdP) {}, 0, ""},
		{"expired 30s ago, leeway 60s", func(idp *testidp.IdP) { idp.Advance(-testidp.TokenTTL - 30*time.Second) }, time.Minute, ""},
		{"expired 30s ago, leeway 10s", func(idp *testidp.IdP) { idp.Advance(-testidp.TokenTTL - 30*time.Second) }, 10 * time.Second, "expired at"},
		{"expired 90s ago, leeway 60s", func(idp *testidp.IdP) { idp.Advance(-testidp.TokenTTL - 90*time.Second) }, time.Minute, "expired at"},
		{"issued 30s ahead, leeway 60s", func(idp *testidp.IdP) { idp.Advance(30 * time.Second) }, time.Minute, ""},
		{"issued 30s ahead, no leeway", func(idp *testidp.IdP) { idp.Advance(30 * time.Second) }, 0, "issued in the future"},
		{"nbf 30s ahead, leeway 60s", func(idp *testidp.IdP) { idp.NotBefore(30 * time.Second) }, time.Minute, ""},
		{"nbf 30s ahead, leeway 10s", func(idp *testidp.IdP) { idp.NotBefore(30 * time.Second) }, 10 * time.Second, "not valid before"},
		{"nbf 2m ahead, leeway 60s", func(idp *testidp.IdP) { idp.NotBefore(2 * time.Minute) }, time.Minute, "not valid before"},
		{"expired an hour ago", func(idp *testidp.IdP) { idp.Expired() }, time.Minute, "expired at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp := testidp.New(t)
			g := newGatehouse(t, oauth.Options{}, func(base string) []oauth.Config {
				c := oidcBlock(idp, base, "test", oauth.ProviderOIDC)
				c.ClockSkew = tc.skew
				return []oauth.Config{c}
			})
			tc.spoil(idp)
			r := g.login(newBrowser(t), "test", "/")
			if tc.detail == "" {
				wantIdentity(t, r, alice, "/")
				return
			}
			wantErr(t, r, oauth.ErrProvider, tc.detail)
		})
	}
}

// EndSessionURL: the discovered end_session_endpoint with client_id and
// post_logout_redirect_uri, only when enabled and available.
func TestEndSessionURL(t *testing.T) {
	idp := testidp.New(t)
	var logBuf syncBuffer
	f := oauth.NewFlows(oauth.Options{Logger: slog.New(slog.NewJSONHandler(&logBuf, nil))})
	cfg := oidcBlock(idp, "https://gate.example.test", "test", oauth.ProviderOIDC)
	ctx := context.Background()
	if u := f.EndSessionURL(ctx, cfg); u != "" {
		t.Fatalf("end_session off: %q", u)
	}
	idp.FailDiscovery(1)
	cfg.EndSession = true
	if u := f.EndSessionURL(ctx, cfg); u != "" || !strings.Contains(logBuf.String(), "no provider logout URL") {
		t.Fatalf("discovery failing: %q, log %s", u, logBuf.String())
	}
	cfg.PostLogoutRedirectURL = "https://app.example.test/bye?x=1"
	u, err := url.Parse(f.EndSessionURL(ctx, cfg))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme+"://"+u.Host+u.Path != idp.URL()+"/logout" || q.Get("ui") != "1" || q.Get("client_id") != cfg.ClientID ||
		q.Get("post_logout_redirect_uri") != cfg.PostLogoutRedirectURL || q.Has("id_token_hint") {
		t.Fatalf("end session URL %s", u)
	}
	gh := githubBlock()
	gh.EndSession = true
	if u := f.EndSessionURL(ctx, gh); u != "" {
		t.Fatalf("github: %q", u)
	}
}

// Config.Lookups through a whole login at the test IdP: claims of the ID
// token, userinfo asked only for the ones the ID token lacks.
func TestLookupsFromClaims(t *testing.T) {
	idp := testidp.New(t)
	g := newGatehouse(t, oauth.Options{}, func(base string) []oauth.Config {
		c := oidcBlock(idp, base, "test", oauth.ProviderOIDC)
		c.Lookups = map[string]string{"tenant": "org_id", "department": "dept", "level": "lvl", "groups": "grp"}
		plain := oidcBlock(idp, base, "plain", oauth.ProviderOIDC)
		return []oauth.Config{c, plain}
	})
	idp.SetUser(testidp.User{Subject: testidp.DefaultSubject, Email: testidp.DefaultEmail, EmailVerified: true, Name: testidp.DefaultName,
		IDTokenClaims:  map[string]any{"org_id": "acme", "lvl": 3, "grp": []string{"a"}},
		UserinfoClaims: map[string]any{"dept": "sales", "org_id": "not-this"},
	})
	r := g.login(newBrowser(t), "test", "/")
	if r.err != nil {
		t.Fatal(r.err)
	}
	want := oauth.Captured{
		Values:  map[string]string{"tenant": "acme", "department": "sales", "level": "3"},
		Refused: map[string]string{"groups": oauth.RefusedNotScalar},
	}
	if r.id.Lookups == nil || !maps.Equal(r.id.Lookups.Values, want.Values) || !maps.Equal(r.id.Lookups.Refused, want.Refused) {
		t.Fatalf("lookups %+v, want %+v", r.id.Lookups, want)
	}
	if n := idp.UserinfoRequests(); n != 1 {
		t.Errorf("%d userinfo requests, want 1 (dept is only there)", n)
	}
	// All claims in the ID token: no userinfo request.
	idp.SetUser(testidp.User{Subject: testidp.DefaultSubject, Email: testidp.DefaultEmail, EmailVerified: true,
		IDTokenClaims: map[string]any{"org_id": "acme", "dept": "ops", "lvl": 1, "grp": "g"}})
	r = g.login(newBrowser(t), "test", "/")
	if r.err != nil || r.id.Lookups == nil || r.id.Lookups.Values["department"] != "ops" || len(r.id.Lookups.Refused) != 0 {
		t.Fatalf("second login: %+v %v", r.id.Lookups, r.err)
	}
	if n := idp.UserinfoRequests(); n != 1 {
		t.Errorf("%d userinfo requests, want still 1", n)
	}
	// A block without lookups captures nothing.
	r = g.login(newBrowser(t), "plain", "/")
	if r.err != nil || r.id.Lookups != nil {
		t.Fatalf("block without lookups: %+v %v", r.id.Lookups, r.err)
	}
}
