package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/password"
	"github.com/gatehouse-dev/gatehouse/proxy/authn"
	"github.com/gatehouse-dev/gatehouse/proxy/session"
)

// AuthPrefix is where gatehouse serves its login endpoints when a sessions
// block is configured. Upstreams never see requests below it.
const AuthPrefix = "/auth/"

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

// endpoints serves /auth/* itself when sessions are configured. It runs
// before routing, so no upstream can shadow or receive these paths.
type endpoints struct{}

func (endpoints) serve(x *exchange) error {
	if x.gen.keys == nil || !strings.HasPrefix(x.path.Escaped, AuthPrefix) {
		return nil
	}
	x.done = true
	rest := x.path.Escaped[len(AuthPrefix)-1:]
	switch {
	case rest == "/login":
		return x.authLogin()
	case rest == "/refresh":
		return x.authRefresh()
	case rest == "/logout":
		return x.authLogout()
	case rest == "/session":
		return x.authSession()
	case rest == "/jwks.json":
		if err := x.needMethod(http.MethodGet, http.MethodHead); err != nil {
			return err
		}
		return x.writeJSON(http.StatusOK, x.gen.keys.JWKS())
	case strings.HasPrefix(rest, "/oauth/"):
		return x.authOAuth(rest[len("/oauth/"):])
	}
	return refuse(http.StatusNotFound, reasonNoEndpoint, nil)
}

// loginRequest is the body of POST /auth/login.
type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Provider string `json:"provider"`
}

// tokenResponse is the body of a successful login or refresh.
type tokenResponse struct {
	SessionToken     string    `json:"session_token"`
	ExpiresAt        time.Time `json:"expires_at"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at"`
}

// authLogin checks a username and password: an admin's when the request
// has no API key, else a user's of the app, locally or against an LDAP
// directory. Unknown users and wrong passwords get the same answer, after
// the same amount of password hashing.
func (x *exchange) authLogin() error {
	if err := x.needMethod(http.MethodPost); err != nil {
		return err
	}
	snap := x.snap()
	app, err := authn.App(x.r, snap)
	if err != nil {
		return authFailure(err)
	}
	var req loginRequest
	if err := x.readJSON(&req); err != nil {
		return err
	}
	if req.Username == "" || req.Password == "" || len(req.Username) > 256 || len(req.Password) > 1024 {
		// Empty passwords never reach a directory (unauthenticated binds).
		return refuse(http.StatusUnauthorized, reasonInvalidCredentials, nil)
	}
	x.ident.App = app
	if x.srv.logins.blocked(x.client, req.Username) {
		return &Error{Status: http.StatusTooManyRequests, Reason: reasonLoginRateLimited, RetryAfter: int(failEvery / time.Second)}
	}
	var s *session.Session
	switch {
	case app == nil && req.Provider != "":
		return refuse(http.StatusBadRequest, reasonBadLoginRequest, errors.New("admins log in without provider"))
	case app == nil:
		s, err = x.loginAdmin(req)
	case req.Provider == "" || req.Provider == policy.ProviderLocal:
		s, err = x.loginLocal(app, req)
	default:
		s, err = x.loginLDAP(app, req)
	}
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Status == http.StatusUnauthorized {
			x.srv.logins.failed(x.client, req.Username)
		}
		return err
	}
	x.ident.User, x.ident.Admin = s.Subject, s.Admin
	return x.issue(s, http.StatusOK, reasonLoginOK)
}

func (x *exchange) loginAdmin(req loginRequest) (*session.Session, error) {
	a, ok := x.snap().Admin(req.Username)
	var h *password.Hash
	if ok {
		h = a.Password()
	}
	if !x.checkPassword(h, req.Password) || !ok || !a.Active() {
		return nil, x.loginRefused()
	}
	return &session.Session{Subject: a.Name(), Provider: policy.ProviderLocal, Local: true, Admin: true}, nil
}

func (x *exchange) loginLocal(app *policy.App, req loginRequest) (*session.Session, error) {
	snap := x.snap()
	u, ok := snap.User(req.Username)
	var h *password.Hash
	if ok {
		h = u.Password()
	}
	if !x.checkPassword(h, req.Password) || !ok || !u.Active() {
		return nil, x.loginRefused()
	}
	return &session.Session{Subject: u.Name(), App: app.Name(), Provider: policy.ProviderLocal, Local: true, Email: u.Email()}, nil
}

// loginRefused is the answer to a failed password check: 401, or 503 when
// no verification slot was free in time.
func (x *exchange) loginRefused() error {
	if x.busy {
		return refuse(http.StatusServiceUnavailable, reasonBusy, nil)
	}
	return refuse(http.StatusUnauthorized, reasonInvalidCredentials, nil)
}

// checkPassword verifies pw against h, or against the snapshot's dummy hash
// when h is nil, so that unknown users cost as much as known ones. At most
// a few verifications run at once: each takes tens of milliseconds and
// megabytes of memory, and logins must not starve proxying.
func (x *exchange) checkPassword(h *password.Hash, pw string) bool {
	known := h != nil
	if !known {
		h = x.snap().DummyPassword()
		if h == nil {
			return false
		}
	}
	ctx, cancel := x.loginContext()
	defer cancel()
	select {
	case x.srv.pwSem <- struct{}{}:
	case <-ctx.Done():
		x.busy = true
		return false
	}
	defer func() { <-x.srv.pwSem }()
	x.srv.pwChecks.Add(1)
	ok := h.Verify(pw)
	return ok && known
}

// authRefresh exchanges a token for a new one while the session's refresh
// window lasts. The old token is revoked; of two concurrent refreshes of
// one token only one succeeds. User sessions need their app's key, and the
// user must still be valid in the current snapshot.
func (x *exchange) authRefresh() error {
	if err := x.needMethod(http.MethodPost); err != nil {
		return err
	}
	old, err := x.refreshableSession()
	if err != nil {
		return err
	}
	if err := x.stillValid(old); err != nil {
		return err
	}
	keys := x.gen.keys
	if !x.srv.sessions.Revoke(keys, old) {
		return refuse(http.StatusUnauthorized, reasonSessionRevoked, nil)
	}
	next := *old
	next.ID = ""
	return x.issue(&next, http.StatusOK, reasonRefreshOK)
}

// stillValid checks that a session's subject is still allowed to hold a
// session: an active admin, or (with the app's key) a valid user.
func (x *exchange) stillValid(s *session.Session) error {
	app, err := authn.App(x.r, x.snap())
	if err != nil {
		return authFailure(err)
	}
	x.ident.User = s.Subject // for the log, also when refused
	return x.admit(app, s)
}

// authLogout revokes the presented token (also an expired one, within its
// refresh window) and clears the session cookie.
func (x *exchange) authLogout() error {
	if err := x.needMethod(http.MethodPost); err != nil {
		return err
	}
	s, err := x.refreshableSession()
	if err != nil {
		return err
	}
	x.ident.User, x.ident.Admin = s.Subject, s.Admin
	x.srv.sessions.Revoke(x.gen.keys, s)
	x.clearSessionCookie()
	x.reason = ""
	x.decision.Reason = reasonLogoutOK
	x.status = http.StatusNoContent
	x.w.Header()["Cache-Control"] = []string{"no-store"}
	x.w.WriteHeader(http.StatusNoContent)
	return nil
}

// refreshableSession reads the token like the authenticate stage does and
// verifies it allowing expiry within the refresh window.
func (x *exchange) refreshableSession() (*session.Session, error) {
	token, _, err := sessionToken(x.r)
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, refuse(http.StatusUnauthorized, reasonNoSession, nil)
	}
	s, err := x.srv.sessions.Refreshable(x.gen.keys, token)
	if errors.Is(err, session.ErrExpired) {
		return nil, refuse(http.StatusUnauthorized, reasonRefreshExpired, err)
	}
	if err != nil {
		return nil, sessionFailure(err)
	}
	return s, nil
}

// sessionInfo is the body of GET /auth/session.
type sessionInfo struct {
	User      string    `json:"user"`
	App       string    `json:"app,omitempty"`
	Role      string    `json:"role,omitempty"`
	Provider  string    `json:"provider"`
	Admin     bool      `json:"admin"`
	Email     string    `json:"email,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
}

// authSession describes the caller's session, authenticated exactly like
// a proxied request (so a user session needs its app's key).
func (x *exchange) authSession() error {
	if err := x.needMethod(http.MethodGet, http.MethodHead); err != nil {
		return err
	}
	if err := (authenticate{}).serve(x); err != nil {
		return err
	}
	s := x.sess
	if s == nil {
		return refuse(http.StatusUnauthorized, reasonNoSession, nil)
	}
	info := sessionInfo{User: s.Subject, App: s.App, Provider: s.Provider, Admin: s.Admin, Email: s.Email, ExpiresAt: s.ExpiresAt.UTC()}
	if x.ident.Role != nil {
		info.Role = x.ident.Role.Name()
	}
	return x.writeJSON(http.StatusOK, info)
}

// issue signs a session, sets the cookie for user sessions and answers
// with the token. Admin sessions get no cookie: an ambient admin
// credential in a browser would be a CSRF target.
func (x *exchange) issue(s *session.Session, status int, reason string) error {
	keys := x.gen.keys
	token, err := x.srv.sessions.Issue(keys, s)
	if err != nil {
		return refuse(http.StatusInternalServerError, reasonInternal, err)
	}
	refreshUntil := s.AuthTime.Add(keys.RefreshTTL()).UTC()
	if !s.Admin {
		x.setSessionCookie(token, refreshUntil)
	}
	x.decision.Reason = policy.Reason(reason)
	return x.writeJSON(status, tokenResponse{SessionToken: token, ExpiresAt: s.ExpiresAt.UTC(), RefreshExpiresAt: refreshUntil})
}

// cookieSecure reports whether gatehouse's cookies (the session cookie and
// the OAuth binding cookie) get the Secure attribute: always, unless the
// sessions block says cookie_secure = false. It does not depend on how the
// request arrived: a browser must never send these cookies over plain HTTP
// because one request (or a proxy that forgot X-Forwarded-Proto) came in
// that way.
func (x *exchange) cookieSecure() bool {
	s := x.snap().Sessions()
	return s == nil || !s.InsecureCookie
}

func (x *exchange) setSessionCookie(token string, until time.Time) {
	c := &http.Cookie{
		Name: SessionCookie, Value: token, Path: "/", Expires: until,
		MaxAge: int(time.Until(until).Seconds()), HttpOnly: true, Secure: x.cookieSecure(), SameSite: http.SameSiteLaxMode,
	}
	x.w.Header().Add("Set-Cookie", c.String())
}

func (x *exchange) clearSessionCookie() {
	c := &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: x.cookieSecure(), SameSite: http.SameSiteLaxMode}
	x.w.Header().Add("Set-Cookie", c.String())
}

// needMethod refuses other methods with 405 and an Allow header.
func (x *exchange) needMethod(methods ...string) error {
	for _, m := range methods {
		if x.r.Method == m {
			return nil
		}
	}
	return &Error{Status: http.StatusMethodNotAllowed, Reason: reasonMethod, Allow: strings.Join(methods, ", ")}
}

// readJSON decodes a small JSON object body strictly: application/json,
// at most maxLoginBody bytes, no unknown fields, nothing after the object.
func (x *exchange) readJSON(v any) error {
	ct, _, _ := strings.Cut(x.r.Header.Get("Content-Type"), ";")
	if !strings.EqualFold(strings.TrimSpace(ct), "application/json") {
		// Requiring JSON also means browsers preflight cross-origin logins.
		return refuse(http.StatusUnsupportedMediaType, reasonMediaType, nil)
	}
	body, err := io.ReadAll(http.MaxBytesReader(x.w, x.r.Body, maxLoginBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return refuse(http.StatusRequestEntityTooLarge, reasonBodyTooLarge, err)
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

// writeJSON answers with v and marks the exchange as answered.
func (x *exchange) writeJSON(status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return refuse(http.StatusInternalServerError, reasonInternal, err)
	}
	h := x.w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Cache-Control"] = []string{"no-store"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	h["X-Request-Id"] = []string{x.id}
	x.status = status
	x.w.WriteHeader(status)
	if x.r.Method != http.MethodHead {
		_, _ = x.w.Write(append(body, '\n'))
	}
	return nil
}

// loginContext bounds directory and provider calls made for one login.
func (x *exchange) loginContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(x.r.Context(), 15*time.Second)
}

var _ stage = endpoints{}
