package authn

import (
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// APIKeyHeader carries the app's API key.
const APIKeyHeader = "X-Api-Key" // canonical form of X-API-Key

// Stable failure reasons of App.
const (
	ReasonMissingAPIKey   = "missing_api_key"
	ReasonAmbiguousAPIKey = "ambiguous_api_key"
	ReasonUnknownAPIKey   = "unknown_api_key"
	ReasonAPIKeyExpired   = "api_key_expired"
	ReasonAppInactive     = "app_inactive"
)

// Key returns the API key of the request's X-API-Key as snap knows it
// (only hashes are kept in memory), or nil and no error when the request
// has no key. Several X-API-Key values are refused rather than guessed at;
// an unknown key is a *Failure. A key past its not_after at now, or of an
// inactive app, is returned together with its *Failure, so that the
// refusal can be logged with the app and key it names.
func Key(r *http.Request, snap *policy.Snapshot, now time.Time) (*policy.Key, error) {
	vals := r.Header[APIKeyHeader]
	switch {
	case len(vals) == 0:
		return nil, nil
	case len(vals) > 1:
		return nil, &Failure{Reason: ReasonAmbiguousAPIKey}
	case vals[0] == "":
		return nil, nil
	}
	k, ok := snap.APIKey(vals[0])
	switch {
	case !ok:
		return nil, &Failure{Reason: ReasonUnknownAPIKey}
	case k.Expired(now):
		return k, &Failure{Reason: ReasonAPIKeyExpired}
	case !k.App().Active():
		return k, &Failure{Reason: ReasonAppInactive}
	}
	return k, nil
}

// APIKey authenticates the app by its X-API-Key (Key), checking expiry
// against Context.Now. It is responsible when the request has the header
// with a value (or several of them). A refused key that was recognized
// (expired, inactive app) comes back in the Result beside the refusal.
type APIKey struct{}

// Authenticate implements Authenticator.
func (APIKey) Authenticate(r *http.Request, c Context) (Result, error) {
	now := c.Now
	if now.IsZero() {
		now = time.Now() // never "no expiry": a zero time precedes every not_after
	}
	k, err := Key(r, c.Snap, now)
	switch {
	case err != nil:
		return Result{Key: k}, Refusal(err)
	case k == nil:
		return Result{}, ErrNotResponsible
	}
	return Result{App: k.App(), Key: k}, nil
}

// KeyIdentity is the identity of a request with its app's key and no
// session: the app and the key, with the app's default role if it has one.
func KeyIdentity(snap *policy.Snapshot, key *policy.Key) policy.Identity {
	app := key.App()
	id := policy.Identity{App: app, Key: key}
	if name := app.DefaultRole(); name != "" {
		id.Role, _ = snap.Role(name) // policy.New guarantees it resolves
	}
	return id
}
