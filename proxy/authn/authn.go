// Package authn recognizes credentials: the app's API key, and where a
// session token is read from and whether a verified session is still
// admitted (the tokens themselves are proxy/session's). Both the pipeline's
// authenticate stage and the /auth/ API (proxy/authapi) use it; passwords,
// LDAP and OAuth are the /auth/ API's.
package authn

// Failure is a credential that was present and refused. Reason is a stable
// snake_case code for logs.
type Failure struct {
	Reason string
}

func (f *Failure) Error() string { return "authentication failed: " + f.Reason }

// Interface guard.
var _ error = (*Failure)(nil)
