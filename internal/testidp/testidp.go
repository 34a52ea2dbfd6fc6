// Package testidp is a small but real OpenID Connect provider for tests. It
// listens on 127.0.0.1 over plain HTTP and speaks discovery, JWKS, the
// authorization-code flow with PKCE (S256 only), a token endpoint with
// client_secret_basic, client_secret_post and private_key_jwt (see
// [AuthMethods]), and userinfo, so that the real
// golang.org/x/oauth2 and github.com/coreos/go-oidc clients work against it
// unchanged.
//
// The same server also fakes the bits of the GitHub API (GET /api/user,
// GET /api/user/emails), of the Facebook Graph API (GET /me) and of the X
// API v2 (GET /2/users/me, which wants the scopes users.read and
// tweet.read) that a login needs, authorised by the access tokens it
// issues.
//
// The authorization endpoint logs in automatically as the current user (see
// [IdP.SetUser]). Knobs such as [IdP.WrongNonce] or [IdP.Expired] spoil the
// next issued ID token for negative tests.
package testidp

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults for the registered client and the logged-in user.
const (
	DefaultClientID     = "gatehouse-test"
	DefaultClientSecret = "gatehouse-test-secret"
	DefaultSubject      = "u-alice"
	DefaultEmail        = "alice@example.test"
	DefaultName         = "Alice Example"

	// CodeTTL is how long an authorization code stays redeemable.
	CodeTTL = 60 * time.Second
	// TokenTTL is the lifetime of issued access and ID tokens.
	TokenTTL = time.Hour

	// GitHubID is the numeric id the fake GitHub API reports when the
	// user's Subject is not a number.
	GitHubID = 123
	// GitHubSecondaryEmail is a verified but non-primary address listed
	// first by the fake GET /api/user/emails, so that clients must pick the
	// primary one rather than the first.
	GitHubSecondaryEmail = "alice-secondary@example.test"
	// GitHubPublicEmail is the public profile email of GET /api/user, which
	// differs from the primary address on purpose.
	GitHubPublicEmail = "alice-public@example.test"

	// XUserID is the id the fake X API reports when the user's Subject is
	// not a number; DefaultXUsername the username when User.Username is
	// empty.
	XUserID          = "1453938412359217152"
	DefaultXUsername = "Alice_X"
)

// User is the account the provider logs in as.
type User struct {
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	// IDTokenClaims and UserinfoClaims are more claims of the ID token and
	// of the userinfo response (org_id, department, …), each JSON-encoded
	// as given; they never replace a claim the provider sets itself (iss,
	// sub, aud, nonce, the times, email, email_verified, name).
	IDTokenClaims  map[string]any
	UserinfoClaims map[string]any
	// Username is the X username of GET /2/users/me ("" =
	// DefaultXUsername).
	Username string
}

// addClaims sets the claims of extra, except the ones the provider sets
// itself.
func addClaims(claims, extra map[string]any) {
	for k, v := range extra {
		switch k {
		case "iss", "sub", "aud", "iat", "exp", "nbf", "nonce", "email", "email_verified", "name":
			continue
		}
		claims[k] = v
	}
}

// Option configures New.
type Option func(*IdP)

// ClientID sets the registered client's id (default [DefaultClientID]).
func ClientID(id string) Option { return func(p *IdP) { p.client.id = id } }

// ClientSecret sets the registered client's secret (default
// [DefaultClientSecret]).
func ClientSecret(secret string) Option { return func(p *IdP) { p.client.secret = secret } }

// RedirectURIs sets the registered client's allowed redirect URIs (exact
// match).
func RedirectURIs(uris ...string) Option {
	return func(p *IdP) { p.client.redirectURIs = slices.Clone(uris) }
}

// TrailingSlashIssuer makes the issuer identifier the base URL with a
// trailing slash (as some providers write it): the discovery document's
// issuer and the ID tokens' iss both end in "/".
func TrailingSlashIssuer() Option { return func(p *IdP) { p.slashIssuer = true } }

// AuthMethods sets the token endpoint's accepted client authentication
// methods, in the order the discovery document lists them under
// token_endpoint_auth_methods_supported (default client_secret_basic and
// client_secret_post; add "private_key_jwt" to accept client assertions
// signed with a key given to [IdP.RegisterClientKey]). A request that
// authenticates with another method gets 401 invalid_client.
func AuthMethods(methods ...string) Option {
	return func(p *IdP) { p.authMethods = slices.Clone(methods) }
}

// Client authentication methods ([AuthMethods], [IdP.LastTokenAuth]).
const (
	AuthBasic         = "client_secret_basic"
	AuthPost          = "client_secret_post"
	AuthPrivateKeyJWT = "private_key_jwt"
	// AssertionType is the client_assertion_type of private_key_jwt
	// (RFC 7523 2.2).
	AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

type client struct {
	id, secret   string
	redirectURIs []string
	key          crypto.PublicKey // private_key_jwt; nil: none
}

type signingKey struct {
	kid string
	key *rsa.PrivateKey
}

type authCode struct {
	clientID    string
	redirectURI string
	challenge   string
	nonce       string
	scope       string
	user        User
	expires     time.Time
}

type accessToken struct {
	clientID string
	user     User
	scope    string
	expires  time.Time
}

// spoil is the set of one-shot knobs applied to the next ID token.
type spoil struct {
	wrongNonce, wrongAudience, wrongIssuer, expired, otherKey, noEmail bool
	notBefore                                                          *time.Duration
}

// IdP is a running test provider. Its methods are safe for concurrent use.
type IdP struct {
	srv         *httptest.Server
	slashIssuer bool
	authMethods []string

	mu               sync.Mutex
	client           client
	extraClients     map[string]client
	user             User
	keys             []signingKey // keys[0] signs; all are published
	otherKey         *signingKey  // never published
	codes            map[string]authCode
	tokens           map[string]accessToken
	next             spoil
	deny             string
	denyDescription  string
	failDiscovery    int
	offset           time.Duration
	tokenRequests    int
	discoveryCount   int
	lastAuthorize    url.Values
	lastTokenForm    url.Values
	lastTokenBasic   bool
	lastTokenAuth    string
	lastLogout       url.Values
	lastAssertion    map[string]any // header of the last client assertion
	assertionIDs     map[string]bool
	failToken        string
	keyGeneration    int
	authorizeCount   int
	userinfoRequests int
	xRequests        int
}

// New starts a provider on 127.0.0.1 and closes it when the test ends.
func New(t testing.TB, opts ...Option) *IdP {
	t.Helper()
	p := &IdP{
		client:       client{id: DefaultClientID, secret: DefaultClientSecret},
		extraClients: map[string]client{},
		user:         User{Subject: DefaultSubject, Email: DefaultEmail, EmailVerified: true, Name: DefaultName},
		codes:        map[string]authCode{},
		tokens:       map[string]accessToken{},
		authMethods:  []string{AuthBasic, AuthPost},
		assertionIDs: map[string]bool{},
	}
	for _, o := range opts {
		o(p)
	}
	p.keys = []signingKey{p.newKey(t)}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /userinfo", p.userinfo)
	mux.HandleFunc("GET /logout", p.logout)
	mux.HandleFunc("GET /api/user", p.githubUser)
	mux.HandleFunc("GET /api/user/emails", p.githubEmails)
	mux.HandleFunc("GET /me", p.facebookMe)
	mux.HandleFunc("GET /2/users/me", p.xUsersMe)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testidp: listen: %v", err)
	}
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = l
	srv.Config.ReadHeaderTimeout = 10 * time.Second
	srv.Start()
	p.srv = srv
	t.Cleanup(srv.Close)
	return p
}

func (p *IdP) newKey(t testing.TB) signingKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("testidp: generate key: %v", err)
	}
	p.keyGeneration++
	return signingKey{kid: "testidp-" + strconv.Itoa(p.keyGeneration), key: k}
}

// URL is the server's base URL, e.g. http://127.0.0.1:41234.
func (p *IdP) URL() string { return p.srv.URL }

// Issuer is the OpenID issuer identifier: URL, followed by "/" with
// [TrailingSlashIssuer].
func (p *IdP) Issuer() string {
	if p.slashIssuer {
		return p.srv.URL + "/"
	}
	return p.srv.URL
}

// ClientID returns the default registered client's id.
func (p *IdP) ClientID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.client.id
}

// ClientSecret returns the default registered client's secret.
func (p *IdP) ClientSecret() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.client.secret
}

// Register adds a client, or adds redirect URIs to an existing one (the
// secret is then replaced).
func (p *IdP) Register(clientID, secret string, redirectURIs ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if clientID == p.client.id {
		p.client.secret = secret
		p.client.redirectURIs = append(p.client.redirectURIs, redirectURIs...)
		return
	}
	c := p.extraClients[clientID]
	c.id, c.secret = clientID, secret
	c.redirectURIs = append(c.redirectURIs, redirectURIs...)
	p.extraClients[clientID] = c
}

// RegisterClientKey sets the public key (*rsa.PublicKey or
// *ecdsa.PublicKey) that verifies the client assertions of clientID, a
// registered client, for private_key_jwt.
func (p *IdP) RegisterClientKey(clientID string, key crypto.PublicKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if clientID == p.client.id {
		p.client.key = key
		return
	}
	c := p.extraClients[clientID]
	c.id, c.key = clientID, key
	p.extraClients[clientID] = c
}

// TokenURL is the token endpoint, the audience of client assertions.
func (p *IdP) TokenURL() string { return p.srv.URL + "/token" }

// LastTokenAuth is the client authentication method of the last token
// request that authenticated (AuthBasic, AuthPost or AuthPrivateKeyJWT),
// and for private_key_jwt the header of its assertion.
func (p *IdP) LastTokenAuth() (method string, assertionHeader map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastTokenAuth, maps.Clone(p.lastAssertion)
}

// FailToken makes the next token request that authenticates its client
// fail with 400 and error=code after it has used up its authorization
// code, as a provider does on a code it cannot redeem.
func (p *IdP) FailToken(code string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failToken = code
}

// SetUser sets the account that the next authorization logs in as.
func (p *IdP) SetUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = u
}

// WrongNonce makes the next ID token carry a nonce other than the one sent.
func (p *IdP) WrongNonce() { p.knob(func(s *spoil) { s.wrongNonce = true }) }

// WrongAudience makes the next ID token's aud another client's id.
func (p *IdP) WrongAudience() { p.knob(func(s *spoil) { s.wrongAudience = true }) }

// WrongIssuer makes the next ID token's iss another issuer.
func (p *IdP) WrongIssuer() { p.knob(func(s *spoil) { s.wrongIssuer = true }) }

// Expired makes the next ID token expired an hour ago.
func (p *IdP) Expired() { p.knob(func(s *spoil) { s.expired = true }) }

// SignWithOtherKey signs the next ID token with a key that is not in the
// JWKS (under the current key's kid, as a forger would).
func (p *IdP) SignWithOtherKey() { p.knob(func(s *spoil) { s.otherKey = true }) }

// OmitEmailFromIDToken leaves email, email_verified and name out of the next
// ID token; they remain available from userinfo.
func (p *IdP) OmitEmailFromIDToken() { p.knob(func(s *spoil) { s.noEmail = true }) }

// NotBefore gives the next ID token an nbf claim d from the provider's
// now (negative: in the past).
func (p *IdP) NotBefore(d time.Duration) { p.knob(func(s *spoil) { s.notBefore = &d }) }

func (p *IdP) knob(f func(*spoil)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(&p.next)
}

// Deny makes the next authorization request redirect back with
// error=code (e.g. "access_denied") and error_description "the user said
// no" instead of a code.
func (p *IdP) Deny(code string) { p.DenyWithDescription(code, "the user said no") }

// DenyWithDescription is Deny with the given error_description (omitted
// when empty).
func (p *IdP) DenyWithDescription(code, description string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deny, p.denyDescription = code, description
}

// FailDiscovery makes the next n discovery requests fail with 503.
func (p *IdP) FailDiscovery(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failDiscovery = n
}

// RotateKey signs from now on with a fresh key under a new kid. The JWKS
// publishes the new key and the previous one.
func (p *IdP) RotateKey(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.newKey(t)
	p.keys = []signingKey{k, p.keys[0]}
}

// Advance moves the provider's clock (code expiry, token iat/exp) by d.
func (p *IdP) Advance(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.offset += d
}

// TokenRequests is the number of requests made to the token endpoint.
func (p *IdP) TokenRequests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tokenRequests
}

// AuthorizeRequests is the number of requests made to the authorization
// endpoint.
func (p *IdP) AuthorizeRequests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.authorizeCount
}

// DiscoveryRequests is the number of discovery document requests.
func (p *IdP) DiscoveryRequests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.discoveryCount
}

// UserinfoRequests is the number of requests to the userinfo endpoint.
func (p *IdP) UserinfoRequests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.userinfoRequests
}

// LastAuthorizeQuery is a copy of the last authorization request's query.
func (p *IdP) LastAuthorizeQuery() url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return cloneValues(p.lastAuthorize)
}

// LastTokenRequest is a copy of the last token request's form and whether it
// authenticated with HTTP Basic (client_secret_basic).
func (p *IdP) LastTokenRequest() (form url.Values, basic bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return cloneValues(p.lastTokenForm), p.lastTokenBasic
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

func (p *IdP) now() time.Time { return time.Now().Add(p.offset) }

// lookupClient must be called with p.mu held.
func (p *IdP) lookupClient(id string) (client, bool) {
	if id == p.client.id {
		return p.client, true
	}
	c, ok := p.extraClients[id]
	return c, ok
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func (p *IdP) discovery(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	p.discoveryCount++
	fail := p.failDiscovery > 0
	if fail {
		p.failDiscovery--
	}
	p.mu.Unlock()
	if fail {
		http.Error(w, "discovery unavailable", http.StatusServiceUnavailable)
		return
	}
	base := p.srv.URL
	p.mu.Lock()
	defer p.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                p.Issuer(),
		"authorization_endpoint":                base + "/authorize",
		"token_endpoint":                        base + "/token",
		"jwks_uri":                              base + "/jwks",
		"userinfo_endpoint":                     base + "/userinfo",
		"end_session_endpoint":                  base + "/logout?ui=1",
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"grant_types_supported":                 []string{"authorization_code"},
		"scopes_supported":                      []string{"openid", "email", "profile"},
		"token_endpoint_auth_methods_supported": p.authMethods,
		"claims_supported":                      []string{"iss", "sub", "aud", "exp", "iat", "nonce", "email", "email_verified", "name"},
	})
}

// LastLogoutQuery is a copy of the last end_session_endpoint request's
// query.
func (p *IdP) LastLogoutQuery() url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return cloneValues(p.lastLogout)
}

// logout is the end_session_endpoint (RP-Initiated Logout): it records
// the query and redirects to post_logout_redirect_uri when the client
// (client_id) registered it as a redirect URI, else answers 200.
func (p *IdP) logout(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	p.lastLogout = cloneValues(q)
	c, ok := p.lookupClient(q.Get("client_id"))
	p.mu.Unlock()
	if to := q.Get("post_logout_redirect_uri"); to != "" && ok && slices.Contains(c.redirectURIs, to) {
		http.Redirect(w, r, to, http.StatusFound)
		return
	}
	_, _ = w.Write([]byte("logged out\n"))
}

func (p *IdP) jwks(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	keys := slices.Clone(p.keys)
	p.mu.Unlock()
	type jwk struct {
		Kty string `json:"kty"`
		Use string `json:"use"`
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		N   string `json:"n"`
		E   string `json:"e"`
	}
	set := struct {
		Keys []jwk `json:"keys"`
	}{}
	for _, k := range keys {
		pub := k.key.PublicKey
		set.Keys = append(set.Keys, jwk{
			Kty: "RSA", Use: "sig", Alg: "RS256", Kid: k.kid,
			N: base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		})
	}
	writeJSON(w, http.StatusOK, set)
}

// authorize implements the authorization endpoint. Errors about the client
// or the redirect URI are shown to the "user" (400); all others are sent
// back to the redirect URI as RFC 6749 error responses.
func (p *IdP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.authorizeCount++
	p.lastAuthorize = cloneValues(q)

	c, ok := p.lookupClient(q.Get("client_id"))
	if !ok {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	redirectURI := q.Get("redirect_uri")
	if !slices.Contains(c.redirectURIs, redirectURI) {
		http.Error(w, "redirect_uri not registered", http.StatusBadRequest)
		return
	}
	target, err := url.Parse(redirectURI)
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	back := func(v url.Values) {
		if s := q.Get("state"); s != "" {
			v.Set("state", s)
		}
		tq := target.Query()
		for k, vs := range v {
			tq[k] = vs
		}
		target.RawQuery = tq.Encode()
		http.Redirect(w, r, target.String(), http.StatusFound)
	}
	fail := func(code, desc string) {
		back(url.Values{"error": {code}, "error_description": {desc}})
	}
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "only response_type=code")
	case q.Get("state") == "":
		fail("invalid_request", "state required")
	case q.Get("code_challenge") == "":
		fail("invalid_request", "code_challenge required")
	case q.Get("code_challenge_method") != "S256":
		fail("invalid_request", "code_challenge_method must be S256")
	case p.deny != "":
		v := url.Values{"error": {p.deny}}
		if p.denyDescription != "" {
			v.Set("error_description", p.denyDescription)
		}
		p.deny, p.denyDescription = "", ""
		back(v)
	default:
		code := randomToken()
		p.codes[code] = authCode{
			clientID:    c.id,
			redirectURI: redirectURI,
			challenge:   q.Get("code_challenge"),
			nonce:       q.Get("nonce"),
			scope:       q.Get("scope"),
			user:        p.user,
			expires:     p.now().Add(CodeTTL),
		}
		back(url.Values{"code": {code}})
	}
}

// token implements the token endpoint for grant_type=authorization_code.
func (p *IdP) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "bad form")
		return
	}
	form := r.PostForm
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tokenRequests++
	p.lastTokenForm = cloneValues(form)

	// Client authentication: client_secret_basic, client_secret_post or
	// private_key_jwt, whichever AuthMethods allows; exactly one.
	id, secret, basic := r.BasicAuth()
	p.lastTokenBasic = basic
	method := AuthPost
	switch {
	case basic:
		method = AuthBasic
		// RFC 6749 §2.3.1: both are form-urlencoded before Basic encoding.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="testidp"`)
			oauthError(w, http.StatusUnauthorized, "invalid_client", "bad basic credentials")
			return
		}
	case form.Has("client_assertion") || form.Has("client_assertion_type"):
		method = AuthPrivateKeyJWT
	default:
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	if n := btoi(basic) + btoi(form.Has("client_secret")) + btoi(form.Has("client_assertion")); n > 1 {
		oauthError(w, http.StatusBadRequest, "invalid_request", "more than one client authentication method")
		return
	}
	if !slices.Contains(p.authMethods, method) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", method+" is not accepted")
		return
	}
	var c client
	if method == AuthPrivateKeyJWT {
		var why string
		c, why = p.checkAssertion(form)
		if why != "" {
			oauthError(w, http.StatusUnauthorized, "invalid_client", why)
			return
		}
	} else {
		var ok bool
		c, ok = p.lookupClient(id)
		if !ok || secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(c.secret)) != 1 {
			if basic {
				w.Header().Set("WWW-Authenticate", `Basic realm="testidp"`)
			}
			oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
			return
		}
	}
	p.lastTokenAuth = method
	if form.Get("grant_type") != "authorization_code" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "only authorization_code")
		return
	}

	code := form.Get("code")
	ac, ok := p.codes[code]
	delete(p.codes, code) // single use, whatever happens next
	now := p.now()
	if fail := p.failToken; fail != "" {
		p.failToken = ""
		oauthError(w, http.StatusBadRequest, fail, "failed on request")
		return
	}
	switch {
	case !ok:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown or used code")
		return
	case ac.clientID != c.id:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "code issued to another client")
		return
	case !now.Before(ac.expires):
		oauthError(w, http.StatusBadRequest, "invalid_grant", "code expired")
		return
	case form.Get("redirect_uri") != ac.redirectURI:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri mismatch")
		return
	}
	verifier := form.Get("code_verifier")
	sum := sha256.Sum256([]byte(verifier))
	if verifier == "" || subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(ac.challenge)) != 1 {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
		return
	}

	at := randomToken()
	p.tokens[at] = accessToken{clientID: c.id, user: ac.user, scope: ac.scope, expires: now.Add(TokenTTL)}
	resp := map[string]any{
		"access_token": at,
		"token_type":   "Bearer",
		"expires_in":   int(TokenTTL / time.Second),
		"scope":        ac.scope,
	}
	if slices.Contains(strings.Fields(ac.scope), "openid") {
		idt, err := p.idToken(ac, now)
		if err != nil {
			oauthError(w, http.StatusInternalServerError, "server_error", "signing failed")
			return
		}
		resp["id_token"] = idt
	}
	writeJSON(w, http.StatusOK, resp)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkAssertion verifies a private_key_jwt client assertion (RFC 7523
// 3): RS256 or ES256 under the client's registered key, iss = sub = the
// client id (and client_id, when sent), aud = the token endpoint, exp in
// the future, a jti not seen before. It returns the client or why not. It
// must be called with p.mu held.
func (p *IdP) checkAssertion(form url.Values) (client, string) {
	if form.Get("client_assertion_type") != AssertionType {
		return client{}, "bad client_assertion_type"
	}
	var c client
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(form.Get("client_assertion"), claims, func(t *jwt.Token) (any, error) {
		iss, _ := claims["iss"].(string)
		var ok bool
		if c, ok = p.lookupClient(iss); !ok || c.key == nil {
			return nil, fmt.Errorf("no key registered for client %q", iss)
		}
		return c.key, nil
	},
		jwt.WithValidMethods([]string{"RS256", "ES256"}),
		jwt.WithAudience(p.TokenURL()),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(p.now),
	)
	if err != nil {
		return client{}, "client assertion rejected: " + err.Error()
	}
	sub, _ := claims["sub"].(string)
	jti, _ := claims["jti"].(string)
	switch {
	case sub != c.id:
		return client{}, "client assertion: sub is not the client id"
	case form.Has("client_id") && form.Get("client_id") != c.id:
		return client{}, "client_id differs from the assertion's iss"
	case jti == "" || p.assertionIDs[jti]:
		return client{}, "client assertion: missing or reused jti"
	}
	p.assertionIDs[jti] = true
	p.lastAssertion = tok.Header
	return c, ""
}

// idToken signs the ID token for ac, applying and resetting the knobs. It
// must be called with p.mu held.
func (p *IdP) idToken(ac authCode, now time.Time) (string, error) {
	s := p.next
	p.next = spoil{}
	claims := jwt.MapClaims{
		"iss": p.Issuer(),
		"sub": ac.user.Subject,
		"aud": ac.clientID,
		"iat": now.Unix(),
		"exp": now.Add(TokenTTL).Unix(),
	}
	if ac.nonce != "" {
		claims["nonce"] = ac.nonce
	}
	if s.wrongNonce {
		claims["nonce"] = "not-the-nonce-" + randomToken()
	}
	if !s.noEmail {
		claims["email"] = ac.user.Email
		claims["email_verified"] = ac.user.EmailVerified
		claims["name"] = ac.user.Name
	}
	if s.wrongAudience {
		claims["aud"] = "some-other-client"
	}
	if s.wrongIssuer {
		claims["iss"] = "https://evil.example.test"
	}
	if s.notBefore != nil {
		claims["nbf"] = now.Add(*s.notBefore).Unix()
	}
	if s.expired {
		claims["iat"] = now.Add(-2 * time.Hour).Unix()
		claims["exp"] = now.Add(-time.Hour).Unix()
	}
	addClaims(claims, ac.user.IDTokenClaims)
	key := p.keys[0]
	if s.otherKey {
		if p.otherKey == nil {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				return "", err
			}
			p.otherKey = &signingKey{key: k}
		}
		key = signingKey{kid: key.kid, key: p.otherKey.key}
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = key.kid
	return tok.SignedString(key.key)
}

// bearer returns the user behind the request's access token, taken from
// "Authorization: Bearer x" or "Authorization: token x" (GitHub style), or
// from the access_token query parameter when allowQuery (Facebook style).
func (p *IdP) bearer(r *http.Request, allowQuery bool) (User, bool) {
	u, _, _, ok := p.bearerToken(r, allowQuery)
	return u, ok
}

// bearerToken is bearer that also returns the raw token and the secret of
// the client it was issued to.
func (p *IdP) bearerToken(r *http.Request, allowQuery bool) (User, string, string, bool) {
	var tok string
	auth := r.Header.Get("Authorization")
	if scheme, rest, ok := strings.Cut(auth, " "); ok && (strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "token")) {
		tok = strings.TrimSpace(rest)
	} else if allowQuery {
		tok = r.URL.Query().Get("access_token")
	}
	if tok == "" {
		return User{}, "", "", false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	at, ok := p.tokens[tok]
	if !ok || !p.now().Before(at.expires) {
		return User{}, "", "", false
	}
	c, _ := p.lookupClient(at.clientID)
	return at.user, tok, c.secret, true
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
}

func (p *IdP) userinfo(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.userinfoRequests++
	p.mu.Unlock()
	u, ok := p.bearer(r, false)
	if !ok {
		unauthorized(w)
		return
	}
	claims := map[string]any{
		"sub": u.Subject, "email": u.Email, "email_verified": u.EmailVerified, "name": u.Name,
	}
	addClaims(claims, u.UserinfoClaims)
	writeJSON(w, http.StatusOK, claims)
}

func githubID(u User) int64 {
	if n, err := strconv.ParseInt(u.Subject, 10, 64); err == nil {
		return n
	}
	return GitHubID
}

func githubLogin(u User) string {
	if local, _, ok := strings.Cut(u.Email, "@"); ok && local != "" {
		return local
	}
	return "alice"
}

// githubUser fakes GET https://api.github.com/user.
func (p *IdP) githubUser(w http.ResponseWriter, r *http.Request) {
	u, ok := p.bearer(r, false)
	if !ok {
		unauthorized(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": githubID(u), "login": githubLogin(u), "name": u.Name, "email": GitHubPublicEmail,
	})
}

// githubEmails fakes GET https://api.github.com/user/emails: a verified
// secondary address first, then the user's address as primary with its
// verification state.
func (p *IdP) githubEmails(w http.ResponseWriter, r *http.Request) {
	u, ok := p.bearer(r, false)
	if !ok {
		unauthorized(w)
		return
	}
	type email struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	writeJSON(w, http.StatusOK, []email{
		{Email: GitHubSecondaryEmail, Primary: false, Verified: true},
		{Email: u.Email, Primary: true, Verified: u.EmailVerified},
	})
}

// facebookMe fakes GET https://graph.facebook.com/vX/me?fields=id,name,email.
// An appsecret_proof parameter, when present, must be
// hex(HMAC-SHA256(key=client secret, access token)).
func (p *IdP) facebookMe(w http.ResponseWriter, r *http.Request) {
	u, tok, secret, ok := p.bearerToken(r, true)
	if !ok {
		unauthorized(w)
		return
	}
	if proof := r.URL.Query().Get("appsecret_proof"); proof != "" {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(tok))
		if !hmac.Equal([]byte(proof), []byte(hex.EncodeToString(m.Sum(nil)))) {
			writeJSON(w, http.StatusBadRequest, map[string]any{
				"error": map[string]string{"message": "invalid appsecret_proof", "type": "GraphMethodException"},
			})
			return
		}
	}
	fields := strings.Split(r.URL.Query().Get("fields"), ",")
	if r.URL.Query().Get("fields") == "" {
		fields = []string{"id", "name"}
	}
	out := map[string]any{}
	for _, f := range fields {
		switch f {
		case "id":
			out["id"] = u.Subject
		case "name":
			out["name"] = u.Name
		case "email":
			out["email"] = u.Email
		default:
			writeJSON(w, http.StatusBadRequest, map[string]any{
				"error": map[string]string{"message": fmt.Sprintf("unknown field %q", f), "type": "OAuthException"},
			})
			return
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// XAPIURL is the base of the fake X API v2, for an oauth block's api_url.
func (p *IdP) XAPIURL() string { return p.srv.URL + "/2" }

// XRequests is the number of GET /2/users/me requests so far.
func (p *IdP) XRequests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.xRequests
}

// XUser is the id and username GET /2/users/me reports for u.
func XUser(u User) (id, username string) {
	id = XUserID
	if _, err := strconv.ParseUint(u.Subject, 10, 64); err == nil {
		id = u.Subject
	}
	username = u.Username
	if username == "" {
		username = DefaultXUsername
	}
	return id, username
}

// xUsersMe fakes GET https://api.x.com/2/users/me: {"data": {"id",
// "name", "username"}} for a bearer token granted the scopes users.read
// and tweet.read (X's documented requirement), 403 with a problem
// document otherwise.
func (p *IdP) xUsersMe(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.xRequests++
	p.mu.Unlock()
	u, tok, _, ok := p.bearerToken(r, false)
	if !ok {
		unauthorized(w)
		return
	}
	p.mu.Lock()
	scope := strings.Fields(p.tokens[tok].scope)
	p.mu.Unlock()
	if !slices.Contains(scope, "users.read") || !slices.Contains(scope, "tweet.read") {
		writeJSON(w, http.StatusForbidden, map[string]any{
			"title": "Forbidden", "status": 403, "type": "about:blank",
			"detail": "the access token lacks the scopes users.read and tweet.read",
		})
		return
	}
	id, username := XUser(u)
	writeJSON(w, http.StatusOK, map[string]any{
		"data": map[string]string{"id": id, "name": u.Name, "username": username},
	})
}
