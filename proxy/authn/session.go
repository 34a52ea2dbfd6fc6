package authn

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy/httperr"
	"github.com/gatehouse-dev/gatehouse/proxy/session"
)

// SessionCookie carries the session token for browsers.
const SessionCookie = "gatehouse_session"

const bearerScheme = "bearer"

// Stable refusal reasons of session credentials.
const (
	ReasonAmbiguousAuthorization = "ambiguous_authorization"
	ReasonAmbiguousSessionCookie = "ambiguous_session_cookie"
	ReasonSessionMalformed       = "session_malformed"
	ReasonSessionInvalid         = "session_invalid"
	ReasonSessionExpired         = "session_expired"
	ReasonSessionRevoked         = "session_revoked"
	ReasonSessionWrongApp        = "session_wrong_app"
	ReasonSessionBadTimes        = "session_bad_times"
	ReasonSessionLifetime        = "session_lifetime_exceeded"
	ReasonUnknownAdmin           = "unknown_admin"
	ReasonAdminInactive          = "admin_inactive"
	// ReasonStoreUnavailable (503): a store of shared state (revocations,
	// one-time values, login budgets) failed, and gatehouse refuses
	// rather than guess. The in-memory stores never fail.
	ReasonStoreUnavailable = "store_unavailable"
)

// Credential says where the session token came from, so that the proxy can
// remove it from the upstream request.
type Credential uint8

// Where a session token came from.
const (
	CredNone Credential = iota
	CredBearer
	CredCookie
)

// Admit accepts a verified session with the request's API key (nil
// without one) if its subject is still valid in snap: an existing, active
// admin (the key, if any, only labels logs), or a user of the key's very
// app whose role UserRole resolves now. It returns the identity, or a 401.
func Admit(snap *policy.Snapshot, key *policy.Key, sess *session.Session) (policy.Identity, error) {
	var app *policy.App
	if key != nil {
		app = key.App()
	}
	if sess.Admin {
		if reason := AdminRefusal(snap, sess.Subject); reason != "" {
			return policy.Identity{}, httperr.Refuse(http.StatusUnauthorized, reason, nil)
		}
		return policy.Identity{App: app, Key: key, User: sess.Subject, Admin: true}, nil
	}
	switch {
	case app == nil:
		return policy.Identity{}, httperr.Refuse(http.StatusUnauthorized, ReasonMissingAPIKey, nil)
	case sess.App != app.Name():
		// A token issued through another app is useless with this key.
		return policy.Identity{}, httperr.Refuse(http.StatusUnauthorized, ReasonSessionWrongApp, nil)
	}
	role, _, reason := snap.UserRole(app, sess.PolicySubject())
	if reason != "" {
		return policy.Identity{}, httperr.Refuse(http.StatusUnauthorized, string(reason), nil)
	}
	return policy.Identity{App: app, Key: key, User: sess.Subject, Role: role}, nil
}

// AdminRefusal is why an admin session of name is no longer valid in snap
// (removed or deactivated admin), or "".
func AdminRefusal(snap *policy.Snapshot, name string) string {
	a, ok := snap.Admin(name)
	switch {
	case !ok:
		return ReasonUnknownAdmin
	case !a.Active():
		return ReasonAdminInactive
	}
	return ""
}

// SessionToken returns the request's session token and where it came
// from: the one Authorization header if it has the Bearer scheme, else the
// one session cookie. "" without either; an error for two Authorization
// headers or two session cookies (which one would the upstream see?).
// BearerSession and CookieSession, in this order, read the same token.
func SessionToken(r *http.Request) (string, Credential, error) {
	token, ok, err := bearerToken(r)
	switch {
	case err != nil:
		return "", CredNone, err
	case ok:
		return token, CredBearer, nil
	}
	t, err := sessionCookie(r)
	if err != nil || t == "" {
		return "", CredNone, err
	}
	return t, CredCookie, nil
}

// BearerSession authenticates a session by the token in the one
// "Authorization: Bearer" header. It is responsible when there is a
// sessions block (Context.Keys) and the request has such a header, or
// several Authorization headers (refused: which one would the upstream
// see?); other schemes are not gatehouse's and pass through to the
// upstream. The Bearer scheme without a token is a malformed token, not
// an absent one: refused, and a CookieSession after it is not asked.
type BearerSession struct{}

// Authenticate implements Authenticator.
func (BearerSession) Authenticate(r *http.Request, c Context) (Result, error) {
	if c.Keys == nil {
		return Result{}, ErrNotResponsible
	}
	token, ok, err := bearerToken(r)
	switch {
	case err != nil:
		return Result{}, err
	case !ok:
		return Result{}, ErrNotResponsible
	}
	return verify(c, token, CredBearer)
}

// CookieSession authenticates a session by the session cookie. It is
// responsible when there is a sessions block and the request has a
// non-empty session cookie, or several of them (refused).
type CookieSession struct{}

// Authenticate implements Authenticator.
func (CookieSession) Authenticate(r *http.Request, c Context) (Result, error) {
	if c.Keys == nil {
		return Result{}, ErrNotResponsible
	}
	token, err := sessionCookie(r)
	switch {
	case err != nil:
		return Result{}, err
	case token == "":
		return Result{}, ErrNotResponsible
	}
	return verify(c, token, CredCookie)
}

// verify checks a session token found as cred. A refused token still
// reports where it came from.
func verify(c Context, token string, cred Credential) (Result, error) {
	sess, err := c.Sessions.Verify(c.Keys, token)
	if err != nil {
		return Result{Cred: cred}, SessionFailure(err)
	}
	return Result{Session: sess, Cred: cred}, nil
}

// bearerToken returns the token of the one Authorization header and
// whether it has the Bearer scheme; an error for several headers.
func bearerToken(r *http.Request) (string, bool, error) {
	switch auth := r.Header["Authorization"]; {
	case len(auth) > 1:
		return "", false, httperr.Refuse(http.StatusUnauthorized, ReasonAmbiguousAuthorization, nil)
	case len(auth) == 1:
		token, ok := Bearer(auth[0])
		return token, ok, nil
	}
	return "", false, nil
}

// Bearer returns the token of an Authorization header value with the
// Bearer scheme (any case), and whether it has that scheme. The scheme
// alone is the Bearer scheme with an empty token: net/http trims the
// space after "Bearer " when the client sends no token. A tab after the
// scheme is read as a space, so that a gatehouse token sent that way is
// still gatehouse's and is not forwarded as another scheme's credential.
func Bearer(v string) (string, bool) {
	if len(v) < len(bearerScheme) || !strings.EqualFold(v[:len(bearerScheme)], bearerScheme) {
		return "", false
	}
	rest := v[len(bearerScheme):]
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return "", false // another scheme ("Bearerx")
	}
	return strings.TrimSpace(rest), true
}

// sessionCookie returns the session cookie's value, "" when there is none,
// and an error when there are several (which one would the upstream see?).
func sessionCookie(r *http.Request) (string, error) {
	if !MentionsSessionCookie(r.Header["Cookie"]) {
		return "", nil // no cookie parsing for requests without ours
	}
	var token string
	n := 0
	for _, c := range r.CookiesNamed(SessionCookie) {
		token = c.Value
		n++
	}
	if n > 1 {
		return "", httperr.Refuse(http.StatusUnauthorized, ReasonAmbiguousSessionCookie, nil)
	}
	return token, nil
}

// MentionsSessionCookie reports whether any Cookie header line contains the
// session cookie's name: a cheap test before parsing or rewriting them.
func MentionsSessionCookie(lines []string) bool {
	return slices.ContainsFunc(lines, func(line string) bool { return strings.Contains(line, SessionCookie) })
}

// SessionFailure maps session.Verify's errors to 401 reasons, and a
// failing revocation store to 503 ReasonStoreUnavailable.
func SessionFailure(err error) *httperr.Error {
	reason := ReasonSessionInvalid
	switch {
	case errors.Is(err, session.ErrUnavailable):
		return httperr.Refuse(http.StatusServiceUnavailable, ReasonStoreUnavailable, err)
	case errors.Is(err, session.ErrMalformed):
		reason = ReasonSessionMalformed
	case errors.Is(err, session.ErrExpired):
		reason = ReasonSessionExpired
	case errors.Is(err, session.ErrRevoked):
		reason = ReasonSessionRevoked
	case errors.Is(err, session.ErrBadTimes):
		reason = ReasonSessionBadTimes
	case errors.Is(err, session.ErrLifetime):
		reason = ReasonSessionLifetime
	}
	return httperr.Refuse(http.StatusUnauthorized, reason, err)
}

// Refusal maps App's errors to the response: 401 with the Failure's
// reason, else 500.
func Refusal(err error) *httperr.Error {
	var f *Failure
	if errors.As(err, &f) {
		return httperr.Refuse(http.StatusUnauthorized, f.Reason, nil)
	}
	return httperr.Refuse(http.StatusInternalServerError, httperr.ReasonInternal, err)
}
