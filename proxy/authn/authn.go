// Package authn recognizes credentials: the app's API key here; session
// tokens in proxy/session; passwords, LDAP and OAuth in the proxy's login
// endpoints.
package authn

// Failure is a credential that was present and refused. Reason is a stable
// snake_case code for logs.
type Failure struct {
	Reason string
}

func (f *Failure) Error() string { return "authentication failed: " + f.Reason }

// Interface guard.
var _ error = (*Failure)(nil)
