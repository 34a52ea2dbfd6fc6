// Package authn establishes who is making a request. Each kind of
// credential has one Authenticator in its own file.
package authn

import (
	"errors"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// Authenticator checks one kind of credential and fills in the identity.
//
// It returns ErrNoCredential when the request carries no credential of its
// kind, so that the next authenticator gets a turn. A credential that is
// present but malformed, unknown or inactive is a *Failure (401), never
// "absent".
type Authenticator interface {
	Authenticate(r *http.Request, snap *policy.Snapshot, id *policy.Identity) error
}

// ErrNoCredential means "not mine": the request has no credential of this
// authenticator's kind.
var ErrNoCredential = errors.New("no credential")

// Failure is a credential that was present and refused. Reason is a stable
// snake_case code for logs.
type Failure struct {
	Reason string
}

func (f *Failure) Error() string { return "authentication failed: " + f.Reason }

// Interface guard.
var _ error = (*Failure)(nil)
