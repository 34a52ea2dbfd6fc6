package proxy

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy/authn"
	"github.com/gatehouse-dev/gatehouse/proxy/session"
)

// Session credentials.
const (
	// SessionCookie carries the session token for browsers.
	SessionCookie = "gatehouse_session"
	bearerPrefix  = "bearer "
)

// Reasons of the authenticate stage (beside authn's API key reasons).
const (
	reasonAmbiguousAuthorization = "ambiguous_authorization"
	reasonAmbiguousSessionCookie = "ambiguous_session_cookie"
	reasonSessionMalformed       = "session_malformed"
	reasonSessionInvalid         = "session_invalid"
	reasonSessionExpired         = "session_expired"
	reasonSessionRevoked         = "session_revoked"
	reasonSessionWrongApp        = "session_wrong_app"
	reasonSessionBadTimes        = "session_bad_times"
	reasonSessionLifetime        = "session_lifetime_exceeded"
	reasonUnknownAdmin           = "unknown_admin"
	reasonAdminInactive          = "admin_inactive"
)

// credential says where the session token came from, so that forward can
// remove it from the upstream request.
type credential uint8

const (
	credNone credential = iota
	credBearer
	credCookie
)

// authenticate establishes the identity: the app from X-API-Key, and a user
// or admin session from "Authorization: Bearer" or the session cookie. An
// app key is required on every non-public route, except for admin sessions.
// A user session counts only together with the key of the app it was issued
// for, and its role comes from the current snapshot, never from the token.
type authenticate struct{}

func (authenticate) serve(x *exchange) error {
	if x.routed && x.route.Upstream.Public() {
		// No authentication, but a gatehouse token must not reach the
		// upstream either: mark it for removal, valid or not.
		if keys := x.gen.keys; keys != nil {
			if auth := x.r.Header["Authorization"]; len(auth) == 1 && hasBearer(auth[0]) &&
				keys.Owns(strings.TrimSpace(auth[0][len(bearerPrefix):])) {
				x.cred = credBearer
			}
		}
		return nil
	}
	snap := x.snap()
	app, err := authn.App(x.r, snap)
	if err != nil {
		return authFailure(err)
	}
	sess, err := x.session()
	if err != nil {
		return err
	}
	switch {
	case sess != nil:
		return x.admit(app, sess)
	case app == nil:
		return refuse(http.StatusUnauthorized, authn.ReasonMissingAPIKey, nil)
	}
	x.ident.App = app
	if name := app.DefaultRole(); name != "" {
		x.ident.Role, _ = snap.Role(name) // policy.New guarantees it resolves
	}
	return nil
}

// admit accepts a verified session with the request's app (nil without a
// key) if its subject is still valid in the current snapshot: an existing,
// active admin (the key, if any, only labels logs), or a user of this very
// app whose role UserRole resolves now. It fills the identity.
func (x *exchange) admit(app *policy.App, sess *session.Session) error {
	snap := x.snap()
	if sess.Admin {
		if reason := adminRefusal(snap, sess.Subject); reason != "" {
			return refuse(http.StatusUnauthorized, reason, nil)
		}
		x.ident = policy.Identity{App: app, User: sess.Subject, Admin: true}
		x.sess = sess
		return nil
	}
	switch {
	case app == nil:
		return refuse(http.StatusUnauthorized, authn.ReasonMissingAPIKey, nil)
	case sess.App != app.Name():
		// A token issued through another app is useless with this key.
		return refuse(http.StatusUnauthorized, reasonSessionWrongApp, nil)
	}
	role, _, reason := snap.UserRole(app, sess.PolicySubject())
	if reason != "" {
		return refuse(http.StatusUnauthorized, string(reason), nil)
	}
	x.ident = policy.Identity{App: app, User: sess.Subject, Role: role}
	x.sess = sess
	return nil
}

// session finds and verifies the session token, if the request carries one.
// Exactly one Authorization header with the Bearer scheme, else exactly one
// session cookie; other Authorization schemes are not ours and pass through
// to the upstream. Without a sessions block nothing here is ours either.
func (x *exchange) session() (*session.Session, error) {
	keys := x.gen.keys
	if keys == nil {
		return nil, nil
	}
	token, cred, err := sessionToken(x.r)
	if err != nil || token == "" {
		return nil, err
	}
	x.cred = cred
	sess, err := x.srv.sessions.Verify(keys, token)
	if err != nil {
		return nil, sessionFailure(err)
	}
	return sess, nil
}

// adminRefusal is why an admin session of name is no longer valid in snap
// (removed or deactivated admin), or "".
func adminRefusal(snap *policy.Snapshot, name string) string {
	a, ok := snap.Admin(name)
	switch {
	case !ok:
		return reasonUnknownAdmin
	case !a.Active():
		return reasonAdminInactive
	}
	return ""
}

// sessionToken returns the request's session token and where it came
// from: the one Authorization header if it has the Bearer scheme, else the
// one session cookie. "" without either; an error for two Authorization
// headers or two session cookies (which one would the upstream see?).
func sessionToken(r *http.Request) (string, credential, error) {
	switch auth := r.Header["Authorization"]; {
	case len(auth) > 1:
		return "", credNone, refuse(http.StatusUnauthorized, reasonAmbiguousAuthorization, nil)
	case len(auth) == 1 && hasBearer(auth[0]):
		return strings.TrimSpace(auth[0][len(bearerPrefix):]), credBearer, nil
	}
	t, err := sessionCookie(r)
	if err != nil || t == "" {
		return "", credNone, err
	}
	return t, credCookie, nil
}

func hasBearer(v string) bool {
	return len(v) >= len(bearerPrefix) && strings.EqualFold(v[:len(bearerPrefix)], bearerPrefix)
}

// sessionCookie returns the session cookie's value, "" when there is none,
// and an error when there are several (which one would the upstream see?).
func sessionCookie(r *http.Request) (string, error) {
	if !mentionsSessionCookie(r.Header["Cookie"]) {
		return "", nil // no cookie parsing for requests without ours
	}
	var token string
	n := 0
	for _, c := range r.CookiesNamed(SessionCookie) {
		token = c.Value
		n++
	}
	if n > 1 {
		return "", refuse(http.StatusUnauthorized, reasonAmbiguousSessionCookie, nil)
	}
	return token, nil
}

// mentionsSessionCookie reports whether any Cookie header line contains the
// session cookie's name: a cheap test before parsing or rewriting them.
func mentionsSessionCookie(lines []string) bool {
	return slices.ContainsFunc(lines, func(line string) bool { return strings.Contains(line, SessionCookie) })
}

// sessionFailure maps session.Verify's errors to 401 reasons.
func sessionFailure(err error) *Error {
	reason := reasonSessionInvalid
	switch {
	case errors.Is(err, session.ErrMalformed):
		reason = reasonSessionMalformed
	case errors.Is(err, session.ErrExpired):
		reason = reasonSessionExpired
	case errors.Is(err, session.ErrRevoked):
		reason = reasonSessionRevoked
	case errors.Is(err, session.ErrBadTimes):
		reason = reasonSessionBadTimes
	case errors.Is(err, session.ErrLifetime):
		reason = reasonSessionLifetime
	}
	return refuse(http.StatusUnauthorized, reason, err)
}

func authFailure(err error) *Error {
	var f *authn.Failure
	if errors.As(err, &f) {
		return refuse(http.StatusUnauthorized, f.Reason, nil)
	}
	return refuse(http.StatusInternalServerError, reasonInternal, err)
}

// stripSessionCredential removes gatehouse's session token from an
// upstream request: the Authorization header when it carried the token,
// and the session cookie always (other cookies stay).
func stripSessionCredential(h http.Header, cred credential) {
	if cred == credBearer {
		delete(h, "Authorization")
	}
	cookies := h["Cookie"]
	if !mentionsSessionCookie(cookies) {
		return // the common case: leave the client's Cookie header as sent
	}
	var kept []string
	for _, line := range cookies {
		for part := range strings.SplitSeq(line, ";") {
			part = strings.TrimSpace(part)
			name, _, _ := strings.Cut(part, "=")
			if part == "" || strings.TrimSpace(name) == SessionCookie {
				continue
			}
			kept = append(kept, part)
		}
	}
	if len(kept) == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = []string{strings.Join(kept, "; ")}
}

var _ stage = authenticate{}
