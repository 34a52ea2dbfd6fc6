// Package oauth runs the OAuth 2.0 / OpenID Connect login flow behind
// gatehouse's /auth/oauth/{name}/login and /auth/oauth/{name}/callback
// endpoints, with golang.org/x/oauth2 and github.com/coreos/go-oidc.
//
// [Flows.Begin] creates a single-use pending login (state, nonce, PKCE S256
// verifier, return path), seals it into a cookie that binds it to the
// browser, and redirects to the provider. [Flows.Complete] checks the callback against it, exchanges
// the code and returns the [Identity] the provider vouches for: from a
// verified ID token for "oidc" and "google", from the REST API for "github",
// "facebook" and "x". The provider's tokens never leave this package; making a
// session out of the identity is the caller's business.
//
// A callback needs nothing that only the process which began the login
// holds: the pending login travels in the cookie, and what instances must
// agree on comes from the configuration (the cookie's sealing key,
// Config.Key, see BindingKey) and from a store (the used states,
// Options.Used). Instances given the same of both complete each other's
// logins, and a state is used once across all of them (see Flows and
// docs/cluster-oauth-limits.md).
package oauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/store"
	"github.com/gatehouse-dev/gatehouse/store/memstore"
)

// Provider kinds accepted in Config.Provider.
const (
	ProviderOIDC     = "oidc"
	ProviderGoogle   = "google"
	ProviderGitHub   = "github"
	ProviderFacebook = "facebook"
	ProviderX        = "x"
)

// Default endpoints of the built-in providers.
const (
	GoogleIssuer        = "https://accounts.google.com"
	GitHubAuthURL       = "https://github.com/login/oauth/authorize"
	GitHubTokenURL      = "https://github.com/login/oauth/access_token"
	GitHubAPIURL        = "https://api.github.com"
	FacebookAuthURL     = "https://www.facebook.com/v22.0/dialog/oauth"
	FacebookTokenURL    = "https://graph.facebook.com/v22.0/oauth/access_token"
	FacebookGraphAPIURL = "https://graph.facebook.com/v22.0"
	// X (formerly Twitter): OAuth 2.0 authorization code with PKCE, and
	// the API v2 base whose /users/me names the user.
	XAuthURL  = "https://x.com/i/oauth2/authorize"
	XTokenURL = "https://api.x.com/2/oauth2/token"
	XAPIURL   = "https://api.x.com/2"
)

// CookiePrefix and CookiePath describe the binding cookie Begin sets: its
// name is CookiePrefix followed by the sanitized Config.Name.
const (
	CookiePrefix = "gatehouse_oauth_"
	CookiePath   = "/auth/oauth/"
)

// Defaults for Options.
const (
	DefaultStateTTL         = 10 * time.Minute
	DefaultMaxUsed          = 100000
	DefaultMaxUsedPerClient = 100
	DefaultHTTPTimeout      = 10 * time.Second
	// DefaultClockSkew is the oauth block's default clock_skew
	// (Config.ClockSkew).
	DefaultClockSkew = 60 * time.Second
	// completeTimeout bounds all provider round trips of one Complete, in
	// case Options.HTTPClient has no timeout of its own.
	completeTimeout = 30 * time.Second
	// maxBody caps provider API responses.
	maxBody = 1 << 20
	// maxStateLen and maxCookieLen bound what a callback may make Complete
	// look at (Begin's are 43 and about 3,200 bytes).
	maxStateLen  = 64
	maxCookieLen = 4096
)

// Errors returned by Begin and Complete. Provider failures wrap ErrProvider;
// the message never contains a token or the client secret.
var (
	// ErrBadNext means the "next" return path is not a safe relative path.
	ErrBadNext = errors.New("oauth: unsafe return path")
	// ErrBadState means the callback does not match a pending login of this
	// browser: unknown, used, expired, for another provider block, from
	// before a configuration change, or without the binding cookie.
	ErrBadState = errors.New("oauth: invalid or expired login state")
	// ErrDenied means the provider returned error=access_denied instead
	// of a code: the user (or the provider's policy) declined.
	ErrDenied = errors.New("oauth: login denied by the provider")
	// ErrInteraction means the provider returned login_required,
	// consent_required, interaction_required or account_selection_required
	// (OIDC Core 3.1.2.6): the user has to do something at the provider
	// first.
	ErrInteraction = errors.New("oauth: the provider needs the user's interaction")
	// ErrRefused means the provider returned another error instead of a
	// code: one that says the authorization request or the client is
	// wrong (invalid_request, unauthorized_client,
	// unsupported_response_type, invalid_scope and OIDC's request object
	// errors: see [CallbackError.Config]), a failure of its own
	// (server_error, temporarily_unavailable) or a code it does not
	// define.
	ErrRefused = errors.New("oauth: the provider refused the authorization request")
	// ErrProvider wraps failures talking to the provider or checking what
	// it returned (exchange, ID token, nonce, API calls).
	ErrProvider = errors.New("oauth: provider error")
	// ErrConfig means the Config cannot be used (unknown provider, missing
	// client id, redirect URL or issuer).
	ErrConfig = errors.New("oauth: unusable configuration")
	// ErrUnavailable means the store of used states (Options.Used) failed,
	// so the callback is refused: whether its state was used before is
	// not known. The in-memory store never fails.
	ErrUnavailable = errors.New("oauth: used-state store unavailable")
)

// Config is one `oauth "name"` block, already validated by the config
// package.
type Config struct {
	// Name is the block label; it appears in cookie names and errors.
	Name string
	// Provider is "oidc", "google", "github", "facebook" or "x".
	Provider     string
	ClientID     string
	ClientSecret string
	// RedirectURL is the absolute callback URL registered at the provider.
	RedirectURL string
	// Issuer is required for oidc; google defaults to GoogleIssuer.
	Issuer string
	// Scopes default to ["openid","email","profile"] for oidc and google
	// (which always get "openid"), ["read:user","user:email"] for github and
	// ["email","public_profile"] for facebook and ["tweet.read",
	// "users.read"] for x (what GET /2/users/me needs).
	Scopes []string
	// AuthURL and TokenURL override the provider's endpoints (for oidc and
	// google, those found by discovery). APIURL is the REST API base for
	// github (e.g. https://github.example.com/api/v3) and the Graph API
	// base for facebook; for x, the API v2 base (default XAPIURL) under
	// which /users/me is asked.
	AuthURL, TokenURL, APIURL string
	// TokenAuthMethod is how the client authenticates at the token
	// endpoint: AuthClientSecretBasic, AuthClientSecretPost or
	// AuthPrivateKeyJWT. "" means client_secret_post for github and
	// facebook (as they document it), client_secret_basic for x (X
	// requires HTTP Basic from confidential clients) and for oidc and
	// google (the OIDC default), or client_secret_post when the discovery
	// document lists token_endpoint_auth_methods_supported with it and
	// without client_secret_basic. Exactly one method is used: a failed
	// exchange is never retried another way (the code is spent).
	TokenAuthMethod string
	// PrivateKey signs the client assertions of private_key_jwt (RFC
	// 7523): an *rsa.PrivateKey (RS256, at least 2048 bits) or an
	// *ecdsa.PrivateKey on P-256 (ES256). PrivateKeyID, when set, is the
	// assertions' kid header.
	PrivateKey   crypto.Signer
	PrivateKeyID string
	// ClientAssertionAudience is the aud of the client assertions:
	// AudienceTokenEndpoint ("" too), the token endpoint's URL (OIDC Core
	// 9; Entra ID, Okta), or AudienceIssuer, the issuer as the discovery
	// document states it (providers that require it, such as zitadel).
	ClientAssertionAudience string
	// ClockSkew is how far the provider's clock may be off from ours when
	// the ID token's times are checked: exp may have passed by up to
	// ClockSkew, nbf and iat may be up to ClockSkew ahead. 0 means none;
	// the config package's default is DefaultClockSkew.
	ClockSkew time.Duration
	// EndSession enables EndSessionURL (RP-initiated logout);
	// PostLogoutRedirectURL is its post_logout_redirect_uri, "" for none.
	EndSession            bool
	PostLogoutRedirectURL string
	// Lookups maps lookup names to the ID token claims (else userinfo
	// claims) whose values they capture (Identity.Lookups); "oidc" and
	// "google" only. Nil for none.
	Lookups map[string]string
	// Key seals the block's pending logins into their binding cookies
	// (AES-256-GCM, 32 bytes). It must come from the configuration, so
	// that every instance sharing it opens the cookies the others sealed
	// and a login begun on one instance completes on another: the caller
	// derives it from a configured secret with BindingKey (authapi uses
	// the sessions signing key). Nil means Options.Key. Another length is
	// ErrConfig.
	Key []byte
}

// Client authentication methods at the token endpoint (Config.TokenAuthMethod).
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthPrivateKeyJWT     = "private_key_jwt"
	// assertionType is the client_assertion_type of private_key_jwt.
	assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// assertionTTL is the lifetime of a client assertion.
	assertionTTL = time.Minute
)

// Audiences of private_key_jwt client assertions (Config.ClientAssertionAudience).
const (
	AudienceTokenEndpoint = "token_endpoint"
	AudienceIssuer        = "issuer"
)

// Identity is what the provider vouches for.
type Identity struct {
	Provider      string // Config.Provider
	Subject       string // stable user id at the provider
	Email         string
	EmailVerified bool
	Name          string
	// Username is the user's handle where the provider has one that the
	// user may change (x: the username without "@"); "" otherwise. Only
	// Subject is stable.
	Username string
	// Lookups holds what Config.Lookups captured; nil when the block has
	// none (a pointer keeps Identity comparable).
	Lookups *Captured
}

// Captured are the lookups a login captured from the provider's claims.
type Captured struct {
	// Values are the claims' values by lookup name (see claimLookups).
	// The caller checks their size.
	Values map[string]string
	// Refused names the lookups whose claim was present but not usable
	// (an array, an object), with why.
	Refused map[string]string
}

// Options configures a Flows.
type Options struct {
	// HTTPClient talks to the providers; nil means a client with a 10s
	// timeout.
	HTTPClient *http.Client
	// StateTTL is how long a login may take; default 10m.
	StateTTL time.Duration
	// Used remembers the states callbacks have used (replays are refused
	// before the provider is asked), each for StateTTL and counted against
	// its client address (an IPv6 client by its /64). Nil means
	// memstore.OneTime bounded by MaxUsed and MaxUsedPerClient.
	Used store.OneTime
	// MaxUsed bounds the memory of states already used by a callback;
	// when full, the oldest is forgotten. Default 100000. Only for the
	// default Used.
	MaxUsed int
	// MaxUsedPerClient bounds the used states remembered for one client
	// address; beyond it, that client's own oldest is forgotten, so that a
	// flood of made-up callbacks from one address cannot push out
	// everyone else's. Default 100. Only for the default Used.
	MaxUsedPerClient int
	// Key seals pending logins into their cookies (AES-256-GCM, 32
	// bytes) for the blocks whose Config.Key is nil; nil means a random
	// key, so that such logins complete only in this process and only
	// until it restarts. Several instances need Config.Key (or one
	// Options.Key) from their shared configuration.
	Key []byte
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives warnings about provider answers that an operator
	// has to act on; nil means slog.Default().
	Logger *slog.Logger
}

// Flows runs logins and keeps the discovered OIDC providers. A pending
// login lives in its browser's binding cookie, sealed with AES-GCM, not in
// memory: a flood of login starts costs no memory and cannot crowd out
// anyone's login, and a browser holds one pending login per provider block
// (its binding cookie). Flows only remembers the states callbacks have
// used, to refuse replays, in a store.OneTime: by default a table bounded
// in total and per client address that forgets the oldest entries and
// never refuses a callback for being full. It is safe for concurrent use
// and meant to live for the whole process, across configuration reloads.
// It starts no goroutines.
//
// # Several instances
//
// A callback may reach another instance than the one that began the
// login, with no sticky routing, when the instances agree on the two
// things a callback depends on: the key that sealed the binding cookie
// (Config.Key, derived from the configuration with BindingKey; the
// nonce, the PKCE verifier and the return path travel in the cookie, so
// nothing else of the login is held by the instance that began it) and
// the used states (Options.Used shared, e.g. redisstore.OneTime, so that
// a replayed state fails on every instance). The discovered OIDC
// providers are cached per process; that is only a cache.
type Flows struct {
	client *http.Client
	ttl    time.Duration
	now    func() time.Time
	aead   cipher.AEAD
	used   store.OneTime
	log    *slog.Logger

	mu        sync.Mutex
	providers map[string]*oidc.Provider
	warned    map[string]bool // method warnings given, by block, issuer and method
}

// pending is one login between Begin and Complete, as sealed in the
// binding cookie.
type pending struct {
	State       string `json:"s"`
	Name        string `json:"b"`
	Fingerprint []byte `json:"f"`
	Nonce       string `json:"o,omitempty"`
	Verifier    string `json:"v"`
	Next        string `json:"n"`
	Expires     int64  `json:"e"` // Unix seconds
}

// NewFlows returns an empty Flows. It panics if Options.Key is given and
// is not 32 bytes long.
func NewFlows(opts Options) *Flows {
	f := &Flows{
		client:    opts.HTTPClient,
		ttl:       opts.StateTTL,
		now:       opts.Now,
		used:      opts.Used,
		log:       opts.Logger,
		providers: map[string]*oidc.Provider{},
		warned:    map[string]bool{},
	}
	if f.log == nil {
		f.log = slog.Default()
	}
	if f.client == nil {
		f.client = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if f.ttl <= 0 {
		f.ttl = DefaultStateTTL
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.used == nil {
		maxUsed, maxPerClient := opts.MaxUsed, opts.MaxUsedPerClient
		if maxUsed <= 0 {
			maxUsed = DefaultMaxUsed
		}
		if maxPerClient <= 0 {
			maxPerClient = DefaultMaxUsedPerClient
		}
		f.used = memstore.NewOneTime(memstore.OneTimeOptions{Max: maxUsed, MaxPerOwner: maxPerClient, Now: f.now})
	}
	key := opts.Key
	if key == nil {
		key = make([]byte, 32)
		_, _ = rand.Read(key) // crypto/rand.Read never returns an error
	}
	if len(key) != 32 {
		panic("oauth: Options.Key must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // unreachable with a 32-byte key
	}
	if f.aead, err = cipher.NewGCM(block); err != nil {
		panic(err)
	}
	return f
}

// Used is the number of states remembered as used, when the store says
// (the in-memory one does), else 0.
func (f *Flows) Used() int {
	if l, ok := f.used.(interface{ Len() int }); ok {
		return l.Len()
	}
	return 0
}

// Begin starts a login. It checks next with SafeNext (ErrBadNext), seals a
// pending login {state, provider block, configuration fingerprint, nonce,
// PKCE S256 verifier, next, expiry} into the binding cookie (HttpOnly,
// SameSite=Lax, Secure when secure, Path CookiePath, Max-Age StateTTL) and
// redirects (302) to the provider's authorization URL with state, nonce
// (oidc, google) and code_challenge with method S256. For oidc and google
// the first Begin per issuer fetches the discovery document.
//
// On error nothing has been written to w.
func (f *Flows) Begin(ctx context.Context, w http.ResponseWriter, r *http.Request, cfg Config, next string, secure bool) error {
	next, ok := SafeNext(next)
	if !ok {
		return ErrBadNext
	}
	p, err := f.resolve(ctx, cfg)
	if err != nil {
		return err
	}
	pend := &pending{
		State:       randomString(),
		Name:        cfg.Name,
		Fingerprint: p.fingerprint[:],
		Verifier:    oauth2.GenerateVerifier(),
		Next:        next,
		Expires:     f.now().Add(f.ttl).Unix(),
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(pend.Verifier)}
	if p.oidc != nil {
		pend.Nonce = randomString()
		opts = append(opts, oidc.Nonce(pend.Nonce))
	}
	binding, err := f.seal(cfg, pend)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName(cfg.Name),
		Value:    binding,
		Path:     CookiePath,
		MaxAge:   max(1, int(f.ttl/time.Second)),
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, p.oauth2.AuthCodeURL(pend.State, opts...), http.StatusFound)
	return nil
}

// Complete handles the provider's redirect back to the callback. The state
// must not have been used by an earlier callback (it is used up by the
// first attempt, successful or not), and must be the one sealed in the
// browser's binding cookie, for a login that has not expired and was begun
// for the same cfg.Name and configuration. Then an "error"
// parameter gives a *CallbackError (wrapping ErrDenied, ErrInteraction or
// ErrRefused; one that says the request or the client is wrong is also
// logged at WARN); otherwise the code is exchanged with the PKCE
// verifier and the identity established: for oidc and google from the ID
// token, verified with go-oidc (signature against the discovered JWKS,
// issuer, audience = client id, expiry) and checked for the nonce; for
// github from /user and /user/emails (the primary verified address); for
// facebook from /me (whose email counts as verified); for x from
// /users/me (id and username, no email).
//
// Complete clears the binding cookie (Secure when secure, as Begin set
// it). client is the browser's address (behind trusted proxies, the
// forwarded one): the used state is remembered under it. It returns the
// identity and the return path given to Begin.
func (f *Flows) Complete(ctx context.Context, w http.ResponseWriter, r *http.Request, cfg Config, client netip.Addr, secure bool) (Identity, string, error) {
	cookieName := CookieName(cfg.Name)
	http.SetCookie(w, &http.Cookie{
		Name:     cookieName,
		Value:    "",
		Path:     CookiePath,
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	})
	w.Header().Set("Cache-Control", "no-store")

	q := r.URL.Query()
	state := q.Get("state")
	fresh, err := f.use(ctx, state, client)
	if err != nil {
		return Identity{}, "", err
	}
	if !fresh {
		return Identity{}, "", fmt.Errorf("%w: unknown or already used state", ErrBadState)
	}
	c, err := r.Cookie(cookieName)
	if err != nil {
		return Identity{}, "", fmt.Errorf("%w: binding cookie missing", ErrBadState)
	}
	pend, ok, err := f.open(cfg, c.Value)
	if err != nil {
		return Identity{}, "", err
	}
	if !ok || subtle.ConstantTimeCompare([]byte(pend.State), []byte(state)) != 1 {
		return Identity{}, "", fmt.Errorf("%w: binding cookie does not match", ErrBadState)
	}
	switch {
	case f.now().Unix() >= pend.Expires:
		return Identity{}, "", fmt.Errorf("%w: state expired", ErrBadState)
	case pend.Name != cfg.Name:
		return Identity{}, "", fmt.Errorf("%w: state belongs to another provider block", ErrBadState)
	}
	if fp := fingerprint(cfg); subtle.ConstantTimeCompare(fp[:], pend.Fingerprint) != 1 {
		return Identity{}, "", fmt.Errorf("%w: configuration changed during login", ErrBadState)
	}
	// Begin checked next before sealing it; checking again costs nothing
	// and does not rest the redirect's safety on the seal alone.
	if _, ok := SafeNext(pend.Next); !ok {
		return Identity{}, "", fmt.Errorf("%w: unsafe return path", ErrBadState)
	}
	if e := q.Get("error"); e != "" {
		ce := newCallbackError(cfg.Name, e, q.Get("error_description"))
		if ce.Config {
			f.log.Warn("oauth: the provider refused the authorization request; check the oauth block and the client registered at the provider",
				"oauth", cfg.Name, "error", ce.Code, "error_description", ce.Description)
		}
		return Identity{}, "", ce
	}
	code := q.Get("code")
	if code == "" {
		return Identity{}, "", f.providerErr(cfg, "callback without code", nil)
	}

	ctx, cancel := context.WithTimeout(ctx, completeTimeout)
	defer cancel()
	p, err := f.resolve(ctx, cfg)
	if err != nil {
		return Identity{}, "", err
	}
	ctx = oidc.ClientContext(ctx, f.client)
	opts := []oauth2.AuthCodeOption{oauth2.VerifierOption(pend.Verifier)}
	if p.method == AuthPrivateKeyJWT {
		assertion, err := f.clientAssertion(cfg, p)
		if err != nil {
			return Identity{}, "", err
		}
		opts = append(opts, oauth2.SetAuthURLParam("client_assertion_type", assertionType),
			oauth2.SetAuthURLParam("client_assertion", assertion))
	}
	// One request: the endpoint's AuthStyle is set (never auto-detect,
	// which would try the other style with the same, spent, code).
	tok, err := p.oauth2.Exchange(ctx, code, opts...)
	if err != nil {
		return Identity{}, "", f.exchangeErr(cfg, err)
	}
	var id Identity
	switch cfg.Provider {
	case ProviderOIDC, ProviderGoogle:
		id, err = f.oidcIdentity(ctx, cfg, p, tok, pend.Nonce)
	case ProviderGitHub:
		id, err = f.githubIdentity(ctx, cfg, p, tok)
	case ProviderFacebook:
		id, err = f.facebookIdentity(ctx, cfg, p, tok)
	case ProviderX:
		id, err = f.xIdentity(ctx, cfg, p, tok)
	}
	if err != nil {
		return Identity{}, "", err
	}
	id.Provider = cfg.Provider
	return id, pend.Next, nil
}

// EndSessionURL is the URL that ends the user's session at the provider
// (OpenID Connect RP-Initiated Logout 1.0): the discovery document's
// end_session_endpoint with client_id and, when configured,
// post_logout_redirect_uri. gatehouse keeps no ID token, so there is no
// id_token_hint: the provider may ask the user to confirm. It is "" when
// cfg.EndSession is off, for providers without discovery, when the
// document names no end_session_endpoint or an unusable one, and when
// discovery fails (logged as a warning): logging out of gatehouse does
// not depend on the provider.
func (f *Flows) EndSessionURL(ctx context.Context, cfg Config) string {
	if !cfg.EndSession || (cfg.Provider != ProviderOIDC && cfg.Provider != ProviderGoogle) {
		return ""
	}
	p, err := f.resolve(ctx, cfg)
	if err != nil {
		f.log.Warn("oauth: no provider logout URL", "oauth", cfg.Name, "error", err.Error())
		return ""
	}
	var doc struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if p.oidc.Claims(&doc) != nil || doc.EndSession == "" {
		return ""
	}
	u, err := url.Parse(doc.EndSession)
	if err != nil || u.Host == "" || u.Fragment != "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
		f.log.Warn("oauth: the discovery document's end_session_endpoint is not an https URL; no provider logout", "oauth", cfg.Name)
		return ""
	}
	q := u.Query()
	q.Set("client_id", cfg.ClientID)
	if cfg.PostLogoutRedirectURL != "" {
		q.Set("post_logout_redirect_uri", cfg.PostLogoutRedirectURL)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// BindingKey derives the 32-byte Config.Key from secret, a key of the
// configuration every instance has (authapi uses the sessions signing
// key): HKDF-SHA256 with its own info string, so the derived key reveals
// nothing of secret and is used for nothing else.
func BindingKey(secret []byte) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, "gatehouse oauth binding cookie v1", 32)
	if err != nil {
		panic(err) // only for lengths over 255*32 bytes
	}
	return k
}

// aeadFor returns the AEAD sealing cfg's binding cookies.
func (f *Flows) aeadFor(cfg Config) (cipher.AEAD, error) {
	if cfg.Key == nil {
		return f.aead, nil
	}
	if len(cfg.Key) != 32 {
		return nil, fmt.Errorf("%w: oauth %q: the binding cookie key has %d bytes, not 32", ErrConfig, cfg.Name, len(cfg.Key))
	}
	block, err := aes.NewCipher(cfg.Key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal returns the binding cookie's value for p: base64url of a random
// GCM nonce followed by the sealed JSON. Nonces are random, 96 bits, so
// one key seals at most about 2^32 logins before a repeat becomes likely
// (NIST SP 800-38D's bound); a key changes with the secret it is derived
// from.
func (f *Flows) seal(cfg Config, p *pending) (string, error) {
	aead, err := f.aeadFor(cfg)
	if err != nil {
		return "", err
	}
	// next is printable ASCII without quotes or backslashes (SafeNext):
	// unescaped, it keeps its length, and the cookie stays under 4 KB.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return "", err
	}
	plain := buf.Bytes()
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	_, _ = rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, plain, nil)), nil
}

// open returns the pending login sealed in a binding cookie's value, or
// false if the value was not sealed with cfg's key (forged, altered, from
// before a restart without a configured key or before the key changed).
// An error is an unusable Config.Key.
func (f *Flows) open(cfg Config, value string) (*pending, bool, error) {
	aead, err := f.aeadFor(cfg)
	if err != nil {
		return nil, false, err
	}
	if len(value) > maxCookieLen {
		return nil, false, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < aead.NonceSize() {
		return nil, false, nil
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, raw[:n], raw[n:], nil)
	if err != nil {
		return nil, false, nil
	}
	var p pending
	if json.Unmarshal(plain, &p) != nil || p.State == "" {
		return nil, false, nil
	}
	return &p, true, nil
}

// use records state as used and reports whether it was not yet: every
// callback uses up its state, whatever happens next, so that a stolen
// callback URL tried first elsewhere also fails in the rightful browser.
// States are remembered until their login would have expired, under the
// client address of the callback. With the in-memory store, when MaxUsed
// are remembered the oldest is forgotten, and when one client has
// MaxUsedPerClient that client's oldest is: a flood of made-up states
// never blocks a login, one address cannot push out the others' states,
// and a forgotten state still needs its browser's cookie and an unused
// code. A store error is returned wrapping ErrUnavailable.
func (f *Flows) use(ctx context.Context, state string, client netip.Addr) (bool, error) {
	if state == "" || len(state) > maxStateLen {
		return false, nil
	}
	fresh, err := f.used.Use(ctx, state, policy.ClientPrefix(client).String(), f.ttl)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return fresh, nil
}

// resolved is a Config turned into something that can run a flow.
type resolved struct {
	oauth2      *oauth2.Config
	oidc        *oidc.Provider // oidc and google only
	apiURL      string         // github and facebook only
	method      string         // token endpoint client authentication
	fingerprint [sha256.Size]byte
}

// resolve validates cfg, applies defaults and, for oidc and google, gets
// the discovered provider.
func (f *Flows) resolve(ctx context.Context, cfg Config) (*resolved, error) {
	if cfg.ClientID == "" || cfg.RedirectURL == "" {
		return nil, fmt.Errorf("%w: oauth %q: client id and redirect URL are required", ErrConfig, cfg.Name)
	}
	p := &resolved{
		oauth2: &oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			RedirectURL:  cfg.RedirectURL,
			Scopes:       scopes(cfg),
		},
		fingerprint: fingerprint(cfg),
	}
	switch cfg.Provider {
	case ProviderOIDC, ProviderGoogle:
		issuer := issuer(cfg)
		if issuer == "" {
			return nil, fmt.Errorf("%w: oauth %q: issuer is required", ErrConfig, cfg.Name)
		}
		op, err := f.discover(ctx, issuer)
		if err != nil {
			return nil, f.providerErr(cfg, "discovery", err)
		}
		p.oidc = op
		p.oauth2.Endpoint = op.Endpoint()
	case ProviderGitHub:
		p.oauth2.Endpoint = oauth2.Endpoint{AuthURL: GitHubAuthURL, TokenURL: GitHubTokenURL}
		p.apiURL = orDefault(cfg.APIURL, GitHubAPIURL)
	case ProviderFacebook:
		p.oauth2.Endpoint = oauth2.Endpoint{AuthURL: FacebookAuthURL, TokenURL: FacebookTokenURL}
		p.apiURL = orDefault(cfg.APIURL, FacebookGraphAPIURL)
	case ProviderX:
		p.oauth2.Endpoint = oauth2.Endpoint{AuthURL: XAuthURL, TokenURL: XTokenURL}
		p.apiURL = orDefault(cfg.APIURL, XAPIURL)
	default:
		return nil, fmt.Errorf("%w: oauth %q: unknown provider %q", ErrConfig, cfg.Name, cfg.Provider)
	}
	if cfg.AuthURL != "" {
		p.oauth2.Endpoint.AuthURL = cfg.AuthURL
	}
	if cfg.TokenURL != "" {
		p.oauth2.Endpoint.TokenURL = cfg.TokenURL
	}
	p.apiURL = strings.TrimSuffix(p.apiURL, "/")
	if err := f.authMethod(cfg, p); err != nil {
		return nil, err
	}
	return p, nil
}

// authMethod chooses p's client authentication at the token endpoint and
// sets the endpoint's AuthStyle to it, never to auto-detection. With a
// discovery document that lists token_endpoint_auth_methods_supported
// without the method chosen, it logs a warning, once per block, issuer
// and method in this process.
func (f *Flows) authMethod(cfg Config, p *resolved) error {
	var supported []string
	if p.oidc != nil {
		var doc struct {
			Methods []string `json:"token_endpoint_auth_methods_supported"`
		}
		if p.oidc.Claims(&doc) == nil {
			supported = doc.Methods
		}
	}
	p.method = cfg.TokenAuthMethod
	if p.method == "" {
		p.method = AuthClientSecretBasic
		if p.oidc == nil && cfg.Provider != ProviderX || len(supported) > 0 && !slices.Contains(supported, AuthClientSecretBasic) && slices.Contains(supported, AuthClientSecretPost) {
			p.method = AuthClientSecretPost
		}
	}
	switch p.method {
	case AuthClientSecretBasic:
		p.oauth2.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	case AuthClientSecretPost:
		p.oauth2.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	case AuthPrivateKeyJWT:
		if _, err := assertionMethod(cfg.PrivateKey); err != nil {
			return fmt.Errorf("%w: oauth %q: %w", ErrConfig, cfg.Name, err)
		}
		// client_id in the form (RFC 7523 allows it), no secret.
		p.oauth2.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		p.oauth2.ClientSecret = ""
	default:
		return fmt.Errorf("%w: oauth %q: unknown token endpoint auth method %q", ErrConfig, cfg.Name, p.method)
	}
	if len(supported) > 0 && !slices.Contains(supported, p.method) {
		key := cfg.Name + "\x00" + issuer(cfg) + "\x00" + p.method
		f.mu.Lock()
		first := !f.warned[key]
		f.warned[key] = true
		f.mu.Unlock()
		if first {
			f.log.Warn("oauth: the provider's discovery document does not list the token endpoint auth method in use",
				"oauth", cfg.Name, "token_endpoint_auth_method", p.method,
				"token_endpoint_auth_methods_supported", strings.Join(supported, " "))
		}
	}
	return nil
}

// assertionMethod is the JWS algorithm for key: RS256 for an RSA key of
// at least 2048 bits, ES256 for an ECDSA key on P-256.
func assertionMethod(key crypto.Signer) (jwt.SigningMethod, error) {
	switch k := key.(type) {
	case nil:
		return nil, errors.New("private_key_jwt needs a private key")
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("the RSA private key has %d bits; private_key_jwt needs at least 2048", k.N.BitLen())
		}
		return jwt.SigningMethodRS256, nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("the ECDSA private key is on %s; private_key_jwt signs ES256, on P-256", k.Curve.Params().Name)
		}
		return jwt.SigningMethodES256, nil
	}
	return nil, fmt.Errorf("a %T private key cannot sign private_key_jwt assertions; use RSA (RS256) or ECDSA P-256 (ES256)", key)
}

// clientAssertion signs a private_key_jwt client assertion (RFC 7523 2.2,
// 3; OIDC Core 9): iss and sub the client id, aud the token endpoint (or
// the issuer, with AudienceIssuer), a random jti, iat now, exp a minute
// later, kid when configured.
func (f *Flows) clientAssertion(cfg Config, p *resolved) (string, error) {
	m, err := assertionMethod(cfg.PrivateKey)
	if err != nil {
		return "", fmt.Errorf("%w: oauth %q: %w", ErrConfig, cfg.Name, err)
	}
	aud := p.oauth2.Endpoint.TokenURL
	if cfg.ClientAssertionAudience == AudienceIssuer {
		var doc struct {
			Issuer string `json:"issuer"`
		}
		if p.oidc == nil || p.oidc.Claims(&doc) != nil || doc.Issuer == "" {
			return "", f.providerErr(cfg, "client assertion: no issuer in the discovery document", nil)
		}
		aud = doc.Issuer
	}
	now := f.now()
	tok := jwt.NewWithClaims(m, jwt.RegisteredClaims{
		Issuer:    cfg.ClientID,
		Subject:   cfg.ClientID,
		Audience:  jwt.ClaimStrings{aud},
		ID:        randomString(),
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(assertionTTL)),
	})
	if cfg.PrivateKeyID != "" {
		tok.Header["kid"] = cfg.PrivateKeyID
	}
	signed, err := tok.SignedString(cfg.PrivateKey)
	if err != nil {
		return "", f.providerErr(cfg, "signing the client assertion", err)
	}
	return signed, nil
}

// discover returns the cached provider for issuer, or fetches its discovery
// document. Failures are not cached.
func (f *Flows) discover(ctx context.Context, issuer string) (*oidc.Provider, error) {
	f.mu.Lock()
	op := f.providers[issuer]
	f.mu.Unlock()
	if op != nil {
		return op, nil
	}
	op, err := newProvider(oidc.ClientContext(ctx, f.client), issuer)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if cached := f.providers[issuer]; cached != nil {
		return cached, nil // another goroutine won the race; keep one key set
	}
	f.providers[issuer] = op
	return op, nil
}

// newProvider fetches issuer's discovery document. The issuer it states
// must be the configured one, except for a trailing slash: some providers
// write their issuer with one, and people copy it without (or the other
// way round). Then the discovered spelling is used, for the ID tokens' iss
// too, since that is the one the provider signs. The discovery URL is the
// same for both spellings (go-oidc trims the slash before appending
// /.well-known/openid-configuration). Any other difference is an error
// that names both values and says what to write.
func newProvider(ctx context.Context, issuer string) (*oidc.Provider, error) {
	op, err := oidc.NewProvider(ctx, issuer)
	var mismatch *oidc.IssuerMismatchError
	if !errors.As(err, &mismatch) {
		return op, err
	}
	discovered := mismatch.Discovered
	if !sameButTrailingSlash(issuer, discovered) {
		return nil, fmt.Errorf("the discovery document at %s/.well-known/openid-configuration states issuer %q, but the configuration says issuer = %q; write issuer = %q if that is the provider you mean",
			strings.TrimSuffix(issuer, "/"), sanitize(discovered, 256), issuer, sanitize(discovered, 256))
	}
	// go-oidc checks nothing with InsecureIssuerURLContext: check the
	// second fetch's issuer ourselves, so that a document that changed in
	// between is not taken unchecked.
	op, err = oidc.NewProvider(oidc.InsecureIssuerURLContext(ctx, discovered), issuer)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if err := op.Claims(&doc); err != nil || doc.Issuer != discovered {
		return nil, fmt.Errorf("the discovery document's issuer changed between two fetches (%q, then %q)", sanitize(discovered, 256), sanitize(doc.Issuer, 256))
	}
	return op, nil
}

// sameButTrailingSlash reports whether a and b differ only by one trailing
// slash.
func sameButTrailingSlash(a, b string) bool {
	return a != b && (a+"/" == b || b+"/" == a)
}

func issuer(cfg Config) string {
	if cfg.Provider == ProviderGoogle {
		return orDefault(cfg.Issuer, GoogleIssuer)
	}
	return cfg.Issuer
}

func scopes(cfg Config) []string {
	s := slices.Clone(cfg.Scopes)
	switch cfg.Provider {
	case ProviderOIDC, ProviderGoogle:
		if len(s) == 0 {
			s = []string{oidc.ScopeOpenID, "email", "profile"}
		} else if !slices.Contains(s, oidc.ScopeOpenID) {
			s = append([]string{oidc.ScopeOpenID}, s...)
		}
	case ProviderGitHub:
		if len(s) == 0 {
			s = []string{"read:user", "user:email"}
		}
	case ProviderFacebook:
		if len(s) == 0 {
			s = []string{"email", "public_profile"}
		}
	case ProviderX:
		if len(s) == 0 {
			s = []string{"tweet.read", "users.read"}
		}
	}
	return s
}

// fingerprint identifies the parts of cfg a pending login depends on. The
// client secret is left out: rotating it does not invalidate codes.
func fingerprint(cfg Config) [sha256.Size]byte {
	h := sha256.New()
	field := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	for _, s := range []string{cfg.Provider, cfg.ClientID, cfg.RedirectURL, issuer(cfg), cfg.AuthURL, cfg.TokenURL, cfg.APIURL} {
		field(s)
	}
	for _, s := range scopes(cfg) {
		field(s)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// CookieName is the binding cookie's name for the block called name:
// CookiePrefix plus name, with bytes outside [A-Za-z0-9_-] replaced by "_"
// and, if anything was replaced, a hash suffix so that distinct names keep
// distinct cookies.
func CookieName(name string) string {
	b := []byte(name)
	changed := name == ""
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
			changed = true
		}
	}
	if changed {
		sum := sha256.Sum256([]byte(name))
		return CookiePrefix + string(b) + "_" + hex.EncodeToString(sum[:4])
	}
	return CookiePrefix + name
}

// randomString returns 256 random bits, base64url-encoded (43 bytes).
func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error
	return base64.RawURLEncoding.EncodeToString(b)
}

func orDefault(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// sanitize keeps printable ASCII of untrusted text and cuts it to n bytes.
func sanitize(s string, n int) string {
	b := make([]byte, 0, min(len(s), n))
	for i := 0; i < len(s) && len(b) < n; i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f {
			b = append(b, c)
		} else {
			b = append(b, '?')
		}
	}
	return string(b)
}

// providerErr wraps ErrProvider. err, when given, is wrapped too; callers
// pass only errors that cannot contain a token or the secret.
func (f *Flows) providerErr(cfg Config, what string, err error) error {
	if err == nil {
		return fmt.Errorf("%w: oauth %q: %s", ErrProvider, cfg.Name, what)
	}
	return fmt.Errorf("%w: oauth %q: %s: %w", ErrProvider, cfg.Name, what, redactURL(err))
}

// exchangeErr reports a failed code exchange without the response body.
func (f *Flows) exchangeErr(cfg Config, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		msg := "token exchange failed"
		if re.Response != nil {
			msg += fmt.Sprintf(": HTTP %d", re.Response.StatusCode)
		}
		if re.ErrorCode != "" {
			msg += fmt.Sprintf(": %q", sanitize(re.ErrorCode, 64))
		}
		if re.ErrorDescription != "" {
			msg += fmt.Sprintf(" (%q)", sanitize(re.ErrorDescription, 200))
		}
		return f.providerErr(cfg, msg, nil)
	}
	return f.providerErr(cfg, "token exchange failed", err)
}

// CallbackError is an error response of the authorization endpoint (RFC
// 6749 4.1.2.1, OIDC Core 3.1.2.6): the callback carried error= instead of
// a code. It wraps ErrDenied, ErrInteraction or ErrRefused. Code and
// Description are the provider's, cleaned: printable ASCII only (control
// characters dropped, other bytes as "?"), at most 64 and 200 bytes. The
// message holds both; it goes to the log, and to the client only outside
// production mode.
type CallbackError struct {
	Name        string // the oauth block
	Code        string // error
	Description string // error_description, "" if none
	// Config reports a code that says gatehouse's request or client
	// registration is wrong, which an operator has to fix (logged at
	// WARN by Complete).
	Config bool
	kind   error
}

func (e *CallbackError) Error() string {
	msg := fmt.Sprintf("%v: oauth %q: error=%q", e.kind, e.Name, e.Code)
	if e.Description != "" {
		msg += fmt.Sprintf(" error_description=%q", e.Description)
	}
	return msg
}

func (e *CallbackError) Unwrap() error { return e.kind }

// newCallbackError classifies the error code of a callback.
func newCallbackError(name, code, description string) *CallbackError {
	e := &CallbackError{Name: name, Code: clean(code, 64), Description: clean(description, 200), kind: ErrRefused}
	switch code {
	case "access_denied":
		e.kind = ErrDenied
	case "login_required", "consent_required", "interaction_required", "account_selection_required":
		e.kind = ErrInteraction
	case "invalid_request", "unauthorized_client", "unsupported_response_type", "invalid_scope",
		"invalid_request_uri", "invalid_request_object", "request_not_supported",
		"request_uri_not_supported", "registration_not_supported":
		e.Config = true
	}
	return e
}

// clean keeps printable ASCII of untrusted text, drops control characters,
// writes other bytes as "?" and cuts the result to n bytes.
func clean(s string, n int) string {
	b := make([]byte, 0, min(len(s), n))
	for i := 0; i < len(s) && len(b) < n; i++ {
		switch c := s[i]; {
		case c >= 0x20 && c < 0x7f:
			b = append(b, c)
		case c >= 0x80:
			b = append(b, '?')
		}
	}
	return string(b)
}

// redactURL drops the query string from a *url.Error's URL.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil && u.RawQuery != "" {
			u.RawQuery = ""
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}
