// Package authn recognizes credentials: the app's API key, and where a
// session token is read from and whether a verified session is still
// admitted (the tokens themselves are proxy/session's). Both the pipeline's
// authenticate stage and the /auth/ API (proxy/authapi) use it; passwords,
// LDAP and OAuth are the /auth/ API's.
//
// Each kind of credential is an Authenticator (APIKey, BearerSession,
// CookieSession). An Authenticator whose credential the request does not
// carry answers ErrNotResponsible; a Chain asks its authenticators in order
// and the first responsible one decides.
package authn

import (
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy/session"
)

// ErrNotResponsible is an Authenticator's answer when the request does not
// carry its kind of credential: not a refusal, the next one is asked.
var ErrNotResponsible = errors.New("authn: credential not present")

// Context is what authenticators look credentials up in. It is passed by
// value so that building it per request does not allocate.
type Context struct {
	Snap     *policy.Snapshot
	Keys     *policy.SessionKeys // Snap's session keys; nil without a sessions block
	Sessions *session.Manager
	// Now is when the request arrived: API keys' not_after is checked
	// against it (zero: the time of the check).
	Now time.Time
}

// Result is what a responsible authenticator found: the app of an API key,
// or a verified session and where its token came from. The session is not
// admitted yet (see Admit): that needs the app too.
type Result struct {
	App     *policy.App
	Key     *policy.Key // the API key found, also beside its refusal when it was recognized
	Session *session.Session
	Cred    Credential
}

// Authenticator recognizes one kind of credential. It returns
// ErrNotResponsible when the request does not carry it, a refusal
// (*httperr.Error) when it carries it and it is not valid, and else what it
// found.
type Authenticator interface {
	Authenticate(r *http.Request, c Context) (Result, error)
}

// Chain is an Authenticator that asks its authenticators in order: the
// first one not answering ErrNotResponsible decides, with its result or its
// refusal, and the rest are not asked. It answers ErrNotResponsible when
// none is responsible.
type Chain []Authenticator

// Authenticate implements Authenticator.
func (ch Chain) Authenticate(r *http.Request, c Context) (Result, error) {
	for _, a := range ch {
		res, err := a.Authenticate(r, c)
		if !errors.Is(err, ErrNotResponsible) {
			return res, err
		}
	}
	return Result{}, ErrNotResponsible
}

// Found maps ErrNotResponsible to nil: for callers to whom an absent
// credential is not an error.
func Found(err error) error {
	if errors.Is(err, ErrNotResponsible) {
		return nil
	}
	return err
}

// Failure is a credential that was present and refused. Reason is a stable
// snake_case code for logs.
type Failure struct {
	Reason string
}

func (f *Failure) Error() string { return "authentication failed: " + f.Reason }

// Interface guards.
var (
	_ error         = (*Failure)(nil)
	_ Authenticator = Chain(nil)
	_ Authenticator = APIKey{}
	_ Authenticator = BearerSession{}
	_ Authenticator = CookieSession{}
)

// SessionChain is the session authenticators in the order every caller
// asks them (the pipeline's authenticate stage and the /auth/ API): a
// bearer token, then the session cookie; a bearer token hides the cookie.
func SessionChain() Chain { return Chain{BearerSession{}, CookieSession{}} }
