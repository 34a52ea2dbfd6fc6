// Package httperr holds the refusal type that gatehouse's request pipeline
// (package proxy) and its /auth/ API (package authapi) return, so that one
// error writer (proxy's writeError) answers for both. It imports nothing of
// gatehouse's.
package httperr

// Error is a refusal or failure with the HTTP status the client gets and a
// stable snake_case Reason for logs and metrics. Err holds details that only
// the log sees when the server runs in production mode.
type Error struct {
	Status int
	Reason string
	Err    error
	Close  bool   // close the client connection after the response
	Allow  string // Allow header of a 405
	// RetryAfter, in seconds, sets Retry-After (429, 503); 0 = none.
	RetryAfter int
	// RateLimit and RateLimitPolicy, when set, are the fields of those
	// names (draft-ietf-httpapi-ratelimit-headers) on a 429 rate_limited.
	RateLimit       string
	RateLimitPolicy string
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Refuse returns an Error of status with reason and the detail err (or nil).
func Refuse(status int, reason string, err error) *Error {
	return &Error{Status: status, Reason: reason, Err: err}
}

// Reasons used by more than one package.
const (
	ReasonInternal     = "internal_error"
	ReasonBodyTooLarge = "body_too_large"
)

var _ error = (*Error)(nil)
