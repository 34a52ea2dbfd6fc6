package authn

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// APIKeyHeader carries the app's API key.
const APIKeyHeader = "X-Api-Key" // canonical form of X-API-Key

// Stable failure reasons of APIKey.
const (
	ReasonMissingAPIKey   = "missing_api_key"
	ReasonAmbiguousAPIKey = "ambiguous_api_key"
	ReasonUnknownAPIKey   = "unknown_api_key"
	ReasonAppInactive     = "app_inactive"
	ReasonUnknownRole     = "unknown_role"
)

// APIKey authenticates the app from the X-API-Key header: the SHA-256 of
// the key must equal an app's api_key_sha256 (only hashes are kept in
// memory). Several X-API-Key values are refused rather than guessed at. The
// role is the app's default_role; user sessions refine it later.
type APIKey struct{}

// Authenticate implements Authenticator.
func (APIKey) Authenticate(r *http.Request, snap *policy.Snapshot, id *policy.Identity) error {
	vals := r.Header[APIKeyHeader]
	switch {
	case len(vals) == 0:
		return ErrNoCredential
	case len(vals) > 1:
		return &Failure{Reason: ReasonAmbiguousAPIKey}
	case vals[0] == "":
		return ErrNoCredential
	}
	app, ok := snap.AppByKey(vals[0])
	if !ok {
		return &Failure{Reason: ReasonUnknownAPIKey}
	}
	if !app.Active() {
		return &Failure{Reason: ReasonAppInactive}
	}
	id.App = app
	if name := app.DefaultRole(); name != "" {
		role, ok := snap.Role(name)
		if !ok {
			// policy.New guarantees default roles resolve; refuse if not.
			return &Failure{Reason: ReasonUnknownRole}
		}
		id.Role = role
	}
	return nil
}

// Interface guard.
var _ Authenticator = APIKey{}
