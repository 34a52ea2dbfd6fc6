package proxy

import (
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy/authn"
	"github.com/gatehouse-dev/gatehouse/proxy/session"
)

// Session credentials and their refusals (authn's, under the names the
// pipeline's files use).
const (
	// SessionCookie carries the session token for browsers.
	SessionCookie = authn.SessionCookie

	reasonSessionExpired  = authn.ReasonSessionExpired
	reasonSessionRevoked  = authn.ReasonSessionRevoked
	reasonSessionBadTimes = authn.ReasonSessionBadTimes
	reasonSessionLifetime = authn.ReasonSessionLifetime
)

// credential says where the session token came from, so that forward can
// remove it from the upstream request.
type credential = authn.Credential

const (
	credNone   = authn.CredNone
	credBearer = authn.CredBearer
	credCookie = authn.CredCookie
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
			if auth := x.r.Header["Authorization"]; len(auth) == 1 {
				if token, ok := authn.Bearer(auth[0]); ok && keys.Owns(token) {
					x.cred = credBearer
				}
			}
		}
		return nil
	}
	snap := x.snap()
	app, err := authn.App(x.r, snap)
	if err != nil {
		return authn.Refusal(err)
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

// admit accepts a verified session with the request's app (authn.Admit)
// and fills the identity.
func (x *exchange) admit(app *policy.App, sess *session.Session) error {
	id, err := authn.Admit(x.snap(), app, sess)
	if err != nil {
		return err
	}
	x.ident, x.sess = id, sess
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
	token, cred, err := authn.SessionToken(x.r)
	if err != nil || token == "" {
		return nil, err
	}
	x.cred = cred
	sess, err := x.srv.sessions.Verify(keys, token)
	if err != nil {
		return nil, authn.SessionFailure(err)
	}
	return sess, nil
}

// stripSessionCredential removes gatehouse's session token from an
// upstream request: the Authorization header when it carried the token,
// and the session cookie always (other cookies stay).
func stripSessionCredential(h http.Header, cred credential) {
	if cred == credBearer {
		delete(h, "Authorization")
	}
	cookies := h["Cookie"]
	if !authn.MentionsSessionCookie(cookies) {
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
