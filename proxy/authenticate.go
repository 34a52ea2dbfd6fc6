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

// authenticators are the credentials the authenticate stage asks for, in
// two chains that combine: the app's (the API key) and the session's (a
// bearer token before the session cookie). In each chain the first
// authenticator whose credential is present decides (authn.Chain), so a
// bearer token hides the cookie as it always has.
type authenticators struct {
	app, session authn.Chain
}

func defaultAuthenticators() authenticators {
	return authenticators{
		app:     authn.Chain{authn.APIKey{}},
		session: authn.SessionChain(),
	}
}

// authenticate establishes the identity: the app from X-API-Key, and a user
// or admin session from "Authorization: Bearer" or the session cookie. An
// app key is required on every non-public route, except for admin sessions.
// A user session counts only together with the key of the app it was issued
// for, and its role comes from the current snapshot, never from the token.
type authenticate struct{}

func (authenticate) serve(x *transaction) error {
	if x.facts.routed && x.facts.route.Upstream.Public() {
		// No authentication, but a gatehouse token must not reach the
		// upstream either: mark it for removal, valid or not.
		if keys := x.gen.keys; keys != nil {
			if auth := x.r.Header["Authorization"]; len(auth) == 1 {
				if token, ok := authn.Bearer(auth[0]); ok && session.Owns(keys, token) {
					x.who.cred = credBearer
				}
			}
		}
		return nil
	}
	c := authn.Context{Snap: x.snap(), Keys: x.gen.keys, Sessions: x.srv.sessions, Now: x.start}
	key, err := x.srv.authn.app.Authenticate(x.r, c)
	if err = authn.Found(err); err != nil {
		// A recognized key that is refused (expired, inactive app) is
		// still named in the access record: who keeps using an old key?
		x.who.ident.Key = key.Key
		return err
	}
	sess, err := x.srv.authn.session.Authenticate(x.r, c)
	x.who.cred = sess.Cred
	if err = authn.Found(err); err != nil {
		return err
	}
	switch {
	case sess.Session != nil:
		return x.admit(key.Key, sess.Session)
	case key.App == nil:
		return refuse(http.StatusUnauthorized, authn.ReasonMissingAPIKey, nil)
	}
	x.who.ident = authn.KeyIdentity(c.Snap, key.Key)
	return nil
}

// admit accepts a verified session with the request's API key
// (authn.Admit) and fills the identity.
func (x *transaction) admit(key *policy.Key, sess *session.Session) error {
	id, err := authn.Admit(x.snap(), key, sess)
	if err != nil {
		return err
	}
	x.who.ident, x.who.sess = id, sess
	return nil
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
