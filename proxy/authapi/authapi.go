// Package authapi is gatehouse's own HTTP API under /auth/: login
// (passwords, locally or against an LDAP directory), refresh, logout,
// session, jwks.json and the OAuth login and callback. The proxy mounts
// its Handler ahead of the request pipeline whenever the snapshot in
// service has a sessions block, so no upstream ever sees these paths and
// the pipeline itself only authenticates. The handler owns what only
// logins need: the failed-login limiter, the bounded slots for password
// verifications and directory binds, and the OAuth flows; the sessions
// (proxy/session) it shares with the pipeline that verifies them. The
// limiter's budgets and the used OAuth states live in package store's
// interfaces (in memory unless Options give others); when a store fails,
// the request is refused with 503 store_unavailable, never let through,
// except that the failed-login limits may be configured to fail open
// (Options.LimitsOnError).
//
// Several instances behind a load balancer act as one when they share the
// stores (store/redisstore) and the configuration: every secret they
// must agree on is derived from the sessions signing key (derivedKeys:
// the OAuth binding cookies' key, the username hashes of the budgets), so
// a login begun on one instance completes on another and a user's failed
// logins count on all of them together. See docs/cluster-oauth-limits.md.
package authapi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/password"
	"github.com/gatehouse-dev/gatehouse/proxy/authapi/oauth"
	"github.com/gatehouse-dev/gatehouse/proxy/authn"
	"github.com/gatehouse-dev/gatehouse/proxy/httperr"
	"github.com/gatehouse-dev/gatehouse/proxy/session"
	"github.com/gatehouse-dev/gatehouse/settings"
	"github.com/gatehouse-dev/gatehouse/store"
)

// Prefix is where gatehouse serves its login endpoints when a sessions
// block is configured. Upstreams never see requests below it.
const Prefix = "/auth/"

// Reasons of the auth endpoints.
const (
	reasonLoginOK            = "login"
	reasonRefreshOK          = "refresh"
	reasonLogoutOK           = "logout"
	reasonInvalidCredentials = "invalid_credentials"
	reasonBadLoginRequest    = "bad_login_request"
	reasonUnknownProvider    = "unknown_provider"
	reasonDirectoryDown      = "directory_unavailable"
	reasonNoSession          = "no_session"
	reasonRefreshExpired     = "refresh_expired"
	reasonMethod             = "method_not_allowed"
	reasonMediaType          = "unsupported_media_type"
	reasonNoEndpoint         = "no_auth_endpoint"
	reasonBusy               = "login_busy"
)

// maxLoginBody bounds login request bodies.
const maxLoginBody = 8 << 10

// Options configure a Handler.
type Options struct {
	// Sessions issues, refreshes and revokes the tokens; the proxy's
	// pipeline verifies them with the same Manager. Required.
	Sessions *session.Manager
	// Now is the failed-login limiter's clock; nil means time.Now.
	Now func() time.Time
	// LoginBudgets holds the failed-login budgets; nil means in memory
	// (memstore.Budgets on Now, maxLimiters entries per table).
	LoginBudgets store.Budgets
	// OAuthStates remembers the OAuth states callbacks have used; nil
	// means in memory (see oauth.Options.Used).
	OAuthStates store.OneTime
	// LimitsOnError is what the failed-login limits do when LoginBudgets
	// fails: LimitsClosed (also ""; refuse with 503) or LimitsOpen (log a
	// bounded warning and let the login proceed to the password check).
	// New panics on anything else.
	LimitsOnError string
	// Logger receives the limits' fail-open warnings and the OAuth flows'
	// warnings (a provider refusing gatehouse's request); nil means
	// slog.Default().
	Logger *slog.Logger
}

// Handler serves the /auth/ API. It keeps the state that outlives
// reloads and that only logins use; everything that depends on the
// configuration comes with each Request.
type Handler struct {
	sessions *session.Manager
	flows    *oauth.Flows
	pwSem    chan struct{} // bounds concurrent password verifications
	logins   *loginLimiter // failed logins per client address and username
	ldapSem  chan struct{} // bounds concurrent directory logins
	pwChecks atomic.Uint64 // password verifications
	keys     keyCache      // keys derived from the configuration
	log      *slog.Logger
}

// New returns a Handler.
func New(opts Options) *Handler {
	h := &Handler{
		sessions: opts.Sessions,
		flows:    oauth.NewFlows(oauth.Options{Used: opts.OAuthStates, Logger: opts.Logger}),
		pwSem:    make(chan struct{}, max(2, runtime.GOMAXPROCS(0))),
		ldapSem:  make(chan struct{}, 32), // network-bound: more may wait on directories
		logins:   newLoginLimiter(opts.LoginBudgets, opts.Now, opts.LimitsOnError, opts.Logger),
		log:      cmp.Or(opts.Logger, slog.Default()),
	}
	return h
}

// PasswordChecks is the number of password verifications run so far.
func (h *Handler) PasswordChecks() uint64 { return h.pwChecks.Load() }

// Request is one request under Prefix as the proxy hands it over: what
// the handler needs from the proxy comes in, what the access record needs
// goes out. The proxy has canonicalized the path and applied CORS (headers
// already set on W); it writes the error Serve returns with its one error
// writer and records the request.
type Request struct {
	W    http.ResponseWriter
	R    *http.Request
	Path string // the canonical escaped path, starting with Prefix

	Snap *policy.Snapshot // the snapshot the request is bound to
	// Runtime holds Snap's runtime settings, where the login providers'
	// connection settings are; nil: none.
	Runtime *settings.Runtime
	Keys    *policy.SessionKeys // Snap's session keys (non-nil)
	Client  netip.Addr          // the client (X-Forwarded-For only from trusted proxies)
	ID      string              // the request id, for X-Request-Id
	// Start is when the request arrived: API keys' not_after is checked
	// against it (zero: the time of the check).
	Start time.Time

	// Set by Serve, for the access record.
	Ident  policy.Identity // who logged in, or whose session it was
	Status int             // the status written, 0 when Serve returned an error
	Reason policy.Reason   // what an answered request did (login, refresh, …)
}

// now is when the request arrived (Request.Start), for API key expiry.
func (c call) now() time.Time {
	if c.Start.IsZero() {
		return time.Now()
	}
	return c.Start
}

// call is one request being served.
type call struct {
	h *Handler
	*Request
}

// Serve answers q. It returns nil when it wrote the response, else the
// refusal (an *httperr.Error, or another error for a 500) for the proxy
// to write.
func (h *Handler) Serve(q *Request) error {
	c := call{h: h, Request: q}
	rest := q.Path[len(Prefix)-1:]
	switch {
	case rest == "/login":
		return c.login()
	case rest == "/refresh":
		return c.refresh()
	case rest == "/logout":
		return c.logout()
	case rest == "/session":
		return c.session()
	case rest == "/jwks.json":
		if err := c.needMethod(http.MethodGet, http.MethodHead); err != nil {
			return err
		}
		return c.writeJSON(http.StatusOK, c.Keys.JWKS())
	case strings.HasPrefix(rest, "/oauth/"):
		return c.oauth(rest[len("/oauth/"):])
	}
	return refuse(http.StatusNotFound, reasonNoEndpoint, nil)
}

// storeUnavailable is the refusal of a request whose store of shared state
// failed (see package store: callers fail closed).
func storeUnavailable(err error) *httperr.Error {
	return refuse(http.StatusServiceUnavailable, authn.ReasonStoreUnavailable, err)
}

func refuse(status int, reason string, err error) *httperr.Error {
	return httperr.Refuse(status, reason, err)
}

// LoginRequest is the body of POST /auth/login.
type LoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Provider string `json:"provider"`
}

// TokenResponse is the body of a successful login or refresh.
type TokenResponse struct {
	SessionToken     string    `json:"session_token"`
	ExpiresAt        time.Time `json:"expires_at"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at"`
}

// login checks a username and password: an admin's when the request
// has no API key, else a user's of the app, locally or against an LDAP
// directory. Unknown users and wrong passwords get the same answer, after
// the same amount of password hashing.
func (c call) login() error {
	if err := c.needMethod(http.MethodPost); err != nil {
		return err
	}
	snap := c.Snap
	key, err := authn.Key(c.R, snap, c.now())
	if err != nil {
		c.Ident.Key = key // named in the log when recognized
		return authn.Refusal(err)
	}
	var app *policy.App
	if key != nil {
		app = key.App()
	}
	var req LoginRequest
	if err := c.readJSON(&req); err != nil {
		return err
	}
	if req.Username == "" || req.Password == "" || len(req.Username) > 256 || len(req.Password) > 1024 {
		// Empty passwords never reach a directory (unauthenticated binds).
		return refuse(http.StatusUnauthorized, reasonInvalidCredentials, nil)
	}
	c.Ident.App, c.Ident.Key = app, key
	userKey := c.h.keys.get(c.Keys).userHash
	blocked, err := c.h.logins.blocked(c.R.Context(), userKey, c.Client, req.Username)
	if err != nil {
		return storeUnavailable(err)
	}
	if blocked {
		return &httperr.Error{Status: http.StatusTooManyRequests, Reason: reasonLoginRateLimited, RetryAfter: int(FailEvery / time.Second)}
	}
	var s *session.Session
	switch {
	case app == nil && req.Provider != "":
		return refuse(http.StatusBadRequest, reasonBadLoginRequest, errors.New("admins log in without provider"))
	case app == nil:
		s, err = c.loginAdmin(req)
	case req.Provider == "" || req.Provider == policy.ProviderLocal:
		s, err = c.loginLocal(app, req)
	default:
		s, err = c.loginLDAP(app, req)
	}
	if err != nil {
		var e *httperr.Error
		if errors.As(err, &e) && e.Status == http.StatusUnauthorized {
			if serr := c.h.logins.failed(c.R.Context(), userKey, c.Client, req.Username); serr != nil {
				return storeUnavailable(serr)
			}
		}
		return err
	}
	c.Ident.User, c.Ident.Admin = s.Subject, s.Admin
	return c.issue(s, http.StatusOK, reasonLoginOK)
}

func (c call) loginAdmin(req LoginRequest) (*session.Session, error) {
	a, ok := c.Snap.Admin(req.Username)
	var h *password.Hash
	if ok {
		h = a.Password()
	}
	if err := c.checkPassword(h, req.Password); err != nil {
		return nil, err
	}
	if !ok || !a.Active() {
		return nil, invalidCredentials()
	}
	return &session.Session{Subject: a.Name(), Provider: policy.ProviderLocal, Local: true, Admin: true}, nil
}

func (c call) loginLocal(app *policy.App, req LoginRequest) (*session.Session, error) {
	snap := c.Snap
	u, ok := snap.User(req.Username)
	var h *password.Hash
	if ok {
		h = u.Password()
	}
	if err := c.checkPassword(h, req.Password); err != nil {
		return nil, err
	}
	if !ok || !u.Active() {
		return nil, invalidCredentials()
	}
	return &session.Session{Subject: u.Name(), App: app.Name(), Provider: policy.ProviderLocal, Local: true, Email: u.Email()}, nil
}

// invalidCredentials is the answer to a wrong password or an unknown or
// inactive user.
func invalidCredentials() *httperr.Error {
	return refuse(http.StatusUnauthorized, reasonInvalidCredentials, nil)
}

// checkPassword verifies pw against h, or against the snapshot's dummy hash
// when h is nil, so that unknown users cost as much as known ones: nil when
// pw is h's password, else the refusal (401, or 503 when no verification
// slot was free in time). At most a few verifications run at once: each
// takes about 100 ms and 64 MiB of memory (default parameters), and logins must not
// starve proxying.
func (c call) checkPassword(h *password.Hash, pw string) *httperr.Error {
	known := h != nil
	if !known {
		h = c.Snap.DummyPassword()
		if h == nil {
			return invalidCredentials()
		}
	}
	ctx, cancel := c.loginContext()
	defer cancel()
	select {
	case c.h.pwSem <- struct{}{}:
	case <-ctx.Done():
		return refuse(http.StatusServiceUnavailable, reasonBusy, nil)
	}
	defer func() { <-c.h.pwSem }()
	c.h.pwChecks.Add(1)
	ok := h.Verify(pw)
	reclaim()
	if !ok || !known {
		return invalidCredentials()
	}
	return nil
}

// reclaim collects the memory of the password verification that just
// finished, before its slot is given to the next one. An argon2id
// verification allocates its whole memory parameter (64 MiB by default)
// at once and drops it when done; x/crypto gives no way to reuse it. With
// GOGC=400 (cmd/gatehouse) the runtime would let such garbage pile up to
// five times the live heap, which during a burst of logins is mostly the
// buffers in use: 350-780 MB of RSS for a heap of 6 MB between logins.
// Collecting here keeps the heap at about the buffers in use, plus one
// being replaced, plus what proxying holds. It costs one GC cycle per
// verification, 2-3 ms against 100-120 ms for the verification itself;
// figures in docs/benchmarks.md ("Memory under a burst of logins").
func reclaim() { runtime.GC() }

// refresh exchanges a token for a new one while the session's refresh
// window lasts. The old token is revoked; of two concurrent refreshes of
// one token only one succeeds. User sessions need their app's key, and the
// user must still be valid in the current snapshot.
func (c call) refresh() error {
	if err := c.needMethod(http.MethodPost); err != nil {
		return err
	}
	old, err := c.refreshableSession()
	if err != nil {
		return err
	}
	if err := c.stillValid(old); err != nil {
		return err
	}
	keys := c.Keys
	first, err := c.h.sessions.Revoke(c.R.Context(), keys, old)
	if err != nil {
		return storeUnavailable(err)
	}
	if !first {
		return refuse(http.StatusUnauthorized, authn.ReasonSessionRevoked, nil)
	}
	next := *old
	next.ID = ""
	next.Lookups = c.stillCaptured(old)
	return c.issue(&next, http.StatusOK, reasonRefreshOK)
}

// stillValid checks that a session's subject is still allowed to hold a
// session: an active admin, or (with the app's key) a valid user.
func (c call) stillValid(s *session.Session) error {
	key, err := authn.Key(c.R, c.Snap, c.now())
	if err != nil {
		c.Ident.Key = key // named in the log when recognized
		return authn.Refusal(err)
	}
	c.Ident.User = s.Subject // for the log, also when refused
	id, err := authn.Admit(c.Snap, key, s)
	if err != nil {
		return err
	}
	c.Ident = id
	return nil
}

// logout revokes the presented token (also an expired one, within its
// refresh window) and clears the session cookie. When the revocation
// store fails, logout does not pretend to have worked: 503, and the
// cookie stays for a retry.
func (c call) logout() error {
	if err := c.needMethod(http.MethodPost); err != nil {
		return err
	}
	s, err := c.refreshableSession()
	if err != nil {
		return err
	}
	c.Ident.User, c.Ident.Admin = s.Subject, s.Admin
	if _, err := c.h.sessions.Revoke(c.R.Context(), c.Keys, s); err != nil {
		return storeUnavailable(err)
	}
	c.clearSessionCookie()
	c.Reason = reasonLogoutOK
	if u := c.endSessionURL(s); u != "" {
		return c.writeJSON(http.StatusOK, LogoutResponse{EndSessionURL: u})
	}
	c.Status = http.StatusNoContent
	c.W.Header()["Cache-Control"] = []string{"no-store"}
	c.W.WriteHeader(http.StatusNoContent)
	return nil
}

// LogoutResponse is the body of POST /auth/logout for a session of an
// oauth block with end_session = true: the provider's logout URL, for the
// browser to go to (RP-initiated logout). Other logouts answer 204.
type LogoutResponse struct {
	EndSessionURL string `json:"end_session_url"`
}

// refreshableSession reads the token as the pipeline does (authn) and
// verifies it allowing expiry within the refresh window.
func (c call) refreshableSession() (*session.Session, error) {
	token, cred, err := authn.SessionToken(c.R)
	if err != nil {
		return nil, err
	}
	if cred == authn.CredNone { // "Bearer" without a token is malformed below
		return nil, refuse(http.StatusUnauthorized, reasonNoSession, nil)
	}
	s, err := c.h.sessions.Refreshable(c.Keys, token)
	if errors.Is(err, session.ErrExpired) {
		return nil, refuse(http.StatusUnauthorized, reasonRefreshExpired, err)
	}
	if err != nil {
		return nil, authn.SessionFailure(err)
	}
	return s, nil
}

// SessionInfo is the body of GET /auth/session.
type SessionInfo struct {
	User      string    `json:"user"`
	App       string    `json:"app,omitempty"`
	Role      string    `json:"role,omitempty"`
	Provider  string    `json:"provider"`
	Admin     bool      `json:"admin"`
	Email     string    `json:"email,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
}

// session describes the caller's session, authenticated exactly like a
// proxied request, by the same authenticators (so a user session needs its
// app's key).
func (c call) session() error {
	if err := c.needMethod(http.MethodGet, http.MethodHead); err != nil {
		return err
	}
	ac := authn.Context{Snap: c.Snap, Keys: c.Keys, Sessions: c.h.sessions, Now: c.now()}
	key, err := authn.APIKey{}.Authenticate(c.R, ac)
	if err = authn.Found(err); err != nil {
		c.Ident.Key = key.Key // named in the log when recognized
		return err
	}
	sess, err := authn.SessionChain().Authenticate(c.R, ac)
	if err = authn.Found(err); err != nil {
		return err
	}
	s := sess.Session
	if s == nil {
		if key.Key == nil {
			return refuse(http.StatusUnauthorized, authn.ReasonMissingAPIKey, nil)
		}
		// Logged like a proxied request with the key alone.
		c.Ident = authn.KeyIdentity(c.Snap, key.Key)
		return refuse(http.StatusUnauthorized, reasonNoSession, nil)
	}
	if c.Ident, err = authn.Admit(c.Snap, key.Key, s); err != nil {
		return err
	}
	info := SessionInfo{User: s.Subject, App: s.App, Provider: s.Provider, Admin: s.Admin, Email: s.Email, ExpiresAt: s.ExpiresAt.UTC()}
	if c.Ident.Role != nil {
		info.Role = c.Ident.Role.Name()
	}
	return c.writeJSON(http.StatusOK, info)
}

// issue signs a session, sets the cookie for user sessions and answers
// with the token. Admin sessions get no cookie: an ambient admin
// credential in a browser would be a CSRF target.
func (c call) issue(s *session.Session, status int, reason string) error {
	keys := c.Keys
	token, err := c.h.sessions.Issue(keys, s)
	if err != nil {
		return refuse(http.StatusInternalServerError, httperr.ReasonInternal, err)
	}
	refreshUntil := s.AuthTime.Add(keys.RefreshTTL()).UTC()
	if !s.Admin {
		c.setSessionCookie(token, refreshUntil)
	}
	c.Reason = policy.Reason(reason)
	return c.writeJSON(status, TokenResponse{SessionToken: token, ExpiresAt: s.ExpiresAt.UTC(), RefreshExpiresAt: refreshUntil})
}

// cookieSecure reports whether gatehouse's cookies (the session cookie and
// the OAuth binding cookie) get the Secure attribute: always, unless the
// sessions block says cookie_secure = false. It does not depend on how the
// request arrived: a browser must never send these cookies over plain HTTP
// because one request (or a proxy that forgot X-Forwarded-Proto) came in
// that way.
func (c call) cookieSecure() bool {
	s := c.Snap.Sessions()
	return s == nil || !s.InsecureCookie
}

func (c call) setSessionCookie(token string, until time.Time) {
	ck := &http.Cookie{
		Name: authn.SessionCookie, Value: token, Path: "/", Expires: until,
		MaxAge: int(time.Until(until).Seconds()), HttpOnly: true, Secure: c.cookieSecure(), SameSite: http.SameSiteLaxMode,
	}
	c.W.Header().Add("Set-Cookie", ck.String())
}

func (c call) clearSessionCookie() {
	ck := &http.Cookie{Name: authn.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: c.cookieSecure(), SameSite: http.SameSiteLaxMode}
	c.W.Header().Add("Set-Cookie", ck.String())
}

// needMethod refuses other methods with 405 and an Allow header.
func (c call) needMethod(methods ...string) error {
	for _, m := range methods {
		if c.R.Method == m {
			return nil
		}
	}
	return &httperr.Error{Status: http.StatusMethodNotAllowed, Reason: reasonMethod, Allow: strings.Join(methods, ", ")}
}

// readJSON decodes a small JSON object body strictly: application/json,
// at most maxLoginBody bytes, no unknown fields, nothing after the object.
func (c call) readJSON(v any) error {
	ct, _, _ := strings.Cut(c.R.Header.Get("Content-Type"), ";")
	if !strings.EqualFold(strings.TrimSpace(ct), "application/json") {
		// Requiring JSON also means browsers preflight cross-origin logins.
		return refuse(http.StatusUnsupportedMediaType, reasonMediaType, nil)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.W, c.R.Body, maxLoginBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return refuse(http.StatusRequestEntityTooLarge, httperr.ReasonBodyTooLarge, err)
		}
		return refuse(http.StatusBadRequest, reasonBadLoginRequest, err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return refuse(http.StatusBadRequest, reasonBadLoginRequest, err)
	}
	if dec.More() {
		return refuse(http.StatusBadRequest, reasonBadLoginRequest, errors.New("data after the JSON object"))
	}
	if _, err := dec.Token(); err != io.EOF {
		return refuse(http.StatusBadRequest, reasonBadLoginRequest, errors.New("data after the JSON object"))
	}
	return nil
}

// writeJSON answers with v and records the status.
func (c call) writeJSON(status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return refuse(http.StatusInternalServerError, httperr.ReasonInternal, err)
	}
	h := c.W.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Cache-Control"] = []string{"no-store"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	h["X-Request-Id"] = []string{c.ID}
	c.Status = status
	c.W.WriteHeader(status)
	if c.R.Method != http.MethodHead {
		_, _ = c.W.Write(append(body, '\n'))
	}
	return nil
}

// loginContext bounds directory and provider calls made for one login.
func (c call) loginContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.R.Context(), 15*time.Second)
}
