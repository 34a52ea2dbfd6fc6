package settings

import (
	"crypto"
	"crypto/x509"
	"time"
)

// LDAP is how gatehouse reaches the directory of one ldap block: its
// address, TLS, bind credentials and searches. What a directory login
// decides (the block's group -> role map, its default role) is policy.
// BindPassword is a secret: it is never printed.
type LDAP struct {
	Name         string // the block's label
	URL          string // ldap:// or ldaps://
	StartTLS     bool
	RootCAs      *x509.CertPool // nil = system roots
	BindDN       string
	BindPassword string
	UserBase     string
	UserFilter   string // contains {username}
	GroupBase    string
	GroupFilter  string // contains {dn}; "" = default
	GroupAttr    string
	EmailAttr    string
	Timeout      time.Duration
	// Lookups maps a user-scope lookup name to the directory attribute
	// whose first value it captures at login; nil for none.
	Lookups map[string]string
}

// OAuth is how gatehouse talks to the provider of one oauth block: the
// client registered there and its endpoints. What an OAuth login decides
// (the block's app, its default role) is policy. ClientSecret is a secret:
// it is never printed.
type OAuth struct {
	Name         string // the block's label
	Provider     string // "oidc", "google", "github", "facebook" or "x"
	ClientID     string
	ClientSecret string
	RedirectURL  string
	Issuer       string
	Scopes       []string
	AuthURL      string // endpoint overrides; "" = the provider's
	TokenURL     string
	APIURL       string
	// TokenAuthMethod is token_endpoint_auth_method: "client_secret_basic",
	// "client_secret_post", "private_key_jwt", or "" for the provider's
	// default.
	TokenAuthMethod string
	// PrivateKey signs private_key_jwt client assertions (*rsa.PrivateKey
	// or *ecdsa.PrivateKey on P-256); PrivateKeyID is their kid, "" for
	// none. PrivateKey is a secret: it is never printed.
	PrivateKey   crypto.Signer
	PrivateKeyID string
	// ClientAssertionAudience is client_assertion_audience: the aud of
	// private_key_jwt assertions, "token_endpoint" ("" too) or "issuer".
	ClientAssertionAudience string
	// ClockSkew is the leeway for the ID token's exp, nbf and iat.
	ClockSkew time.Duration
	// EndSession makes POST /auth/logout answer with the provider's
	// end_session_endpoint (RP-initiated logout), with
	// PostLogoutRedirectURL as post_logout_redirect_uri when set.
	EndSession            bool
	PostLogoutRedirectURL string
	// Lookups maps a user-scope lookup name to the ID token claim (else
	// userinfo claim) it captures at login; nil for none.
	Lookups map[string]string
}

// LDAPProvider returns the connection settings of the ldap block name;
// false on a nil Runtime or an unknown name.
func (r *Runtime) LDAPProvider(name string) (LDAP, bool) {
	if r == nil {
		return LDAP{}, false
	}
	l, ok := r.LDAP[name]
	return l, ok
}

// OAuthProvider returns the client settings of the oauth block name; false
// on a nil Runtime or an unknown name.
func (r *Runtime) OAuthProvider(name string) (OAuth, bool) {
	if r == nil {
		return OAuth{}, false
	}
	o, ok := r.OAuth[name]
	return o, ok
}
