package authn

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// APIKeyHeader carries the app's API key.
const APIKeyHeader = "X-Api-Key" // canonical form of X-API-Key

// Stable failure reasons of App.
const (
	ReasonMissingAPIKey   = "missing_api_key"
	ReasonAmbiguousAPIKey = "ambiguous_api_key"
	ReasonUnknownAPIKey   = "unknown_api_key"
	ReasonAppInactive     = "app_inactive"
)

// App returns the app whose api_key_sha256 is the SHA-256 of the request's
// X-API-Key (only hashes are kept in memory), or nil and no error when the
// request has no key. Several X-API-Key values are refused rather than
// guessed at; an unknown key or an inactive app is a *Failure.
func App(r *http.Request, snap *policy.Snapshot) (*policy.App, error) {
	vals := r.Header[APIKeyHeader]
	switch {
	case len(vals) == 0:
		return nil, nil
	case len(vals) > 1:
		return nil, &Failure{Reason: ReasonAmbiguousAPIKey}
	case vals[0] == "":
		return nil, nil
	}
	app, ok := snap.AppByKey(vals[0])
	if !ok {
		return nil, &Failure{Reason: ReasonUnknownAPIKey}
	}
	if !app.Active() {
		return nil, &Failure{Reason: ReasonAppInactive}
	}
	return app, nil
}

// APIKey authenticates the app by its X-API-Key (App). It is responsible
// when the request has the header with a value (or several of them).
type APIKey struct{}

// Authenticate implements Authenticator.
func (APIKey) Authenticate(r *http.Request, c Context) (Result, error) {
	app, err := App(r, c.Snap)
	switch {
	case err != nil:
		return Result{}, Refusal(err)
	case app == nil:
		return Result{}, ErrNotResponsible
	}
	return Result{App: app}, nil
}

// KeyIdentity is the identity of a request with its app's key and no
// session: the app, with its default role if it has one.
func KeyIdentity(snap *policy.Snapshot, app *policy.App) policy.Identity {
	id := policy.Identity{App: app}
	if name := app.DefaultRole(); name != "" {
		id.Role, _ = snap.Role(name) // policy.New guarantees it resolves
	}
	return id
}
