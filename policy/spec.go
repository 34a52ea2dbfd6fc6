package policy

import (
	"crypto/ed25519"
	"net/netip"
	"net/url"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy/filter"
	"github.com/gatehouse-dev/gatehouse/policy/password"
	"github.com/gatehouse-dev/gatehouse/policy/records"
)

// Spec is the input to New: configuration already parsed and checked by the
// config package, with every value in its final type. Origin fields name where
// an item was declared ("api.hcl:12,3") for logs and explain output.
type Spec struct {
	Server  Server
	Lookups map[string]any // system-scope lookups
	// SecretLookups work like Lookups but are never printed (validate,
	// logs, admin endpoints). Names are unique across both maps of a scope.
	SecretLookups map[string]any
	Upstreams     []UpstreamSpec
	Apps          []AppSpec
	Roles         []RoleSpec
	Users         []UserSpec
	Admins        []AdminSpec
	LDAP          []LDAPSpec
	OAuth         []OAuthSpec
	// Sessions configures login and session tokens; nil = no logins (only
	// API keys), and then Users, Admins, LDAP and OAuth must be empty.
	Sessions *SessionsSpec
	// CORS are the cors blocks in declaration order.
	CORS []CORSSpec
	// Hash identifies the configuration source (e.g. sha256 of the files),
	// reported on reload and by /readyz.
	Hash string
}

// Server holds the server block's request-handling settings; they apply
// per request and follow reloads. (The listeners' settings are not policy:
// see package settings.)
type Server struct {
	// Production hides error details from clients: they get a status, a
	// generic message and a request id; the log gets the rest.
	Production     bool
	TrustedProxies []netip.Prefix // peers whose X-Forwarded-For is believed
	MaxBodyBytes   int64          // request bodies above this get 413
	// BodyBufferBytes: request bodies up to this size are read whole
	// before the upstream is dialled; larger ones stream. 0 = stream all.
	BodyBufferBytes int64
	// IdentityHeaders adds X-Gatehouse-App/-Role/-User to upstream requests.
	IdentityHeaders bool
	// StripHeaders are client request headers removed before forwarding
	// besides the default list (DefaultClientHeaders): names, or "Name*"
	// for every name that begins with Name. KeepHeaders are names of the
	// default list that are forwarded anyway (see NewClientHeaders).
	StripHeaders []string
	KeepHeaders  []string
}

// UpstreamSpec declares one upstream API.
type UpstreamSpec struct {
	Name string
	URL  *url.URL // scheme http or https, no query or fragment
	// Prefix is the canonical path prefix routed to this upstream ("/hr", or
	// "/" for everything). It is stripped before forwarding.
	Prefix  string
	Timeout time.Duration // whole-response timeout; 0 = none
	Active  bool
	// Public forwards without authentication or authorization. The path is
	// still canonicalized and identity headers are still stripped.
	Public bool
	// Headers are added to every request to this upstream, replacing any
	// the client sent under the same name.
	Headers []HeaderTemplate
	Origin  string
}

// AppSpec declares one client application.
type AppSpec struct {
	Name string
	// KeySHA256 is the app's unlabeled key (api_key_sha256), without
	// expiry; zero = none. Keys are its api_key blocks. Every hash must be
	// unique across all apps.
	KeySHA256   [32]byte
	Keys        []KeySpec
	DefaultRole string // may be empty: the app then has no access without a user
	Lookups     map[string]any
	Secrets     map[string]any // secret_lookups
	Active      bool
	RateLimit   *RateLimitSpec // nil = none
	Origin      string
}

// KeySpec declares one of an app's API keys: only its SHA-256 is known.
type KeySpec struct {
	SHA256 [32]byte
	// Label names the key in logs and metrics; "" = unlabeled, named by
	// the first 8 hex digits of SHA256. Labels are unique within an app.
	Label string
	// NotAfter is the last instant the key is accepted; zero = no expiry.
	NotAfter time.Time
	Origin   string
}

// RoleSpec declares one role and its grants in declaration order.
type RoleSpec struct {
	Name    string
	Active  bool
	Grants  []GrantSpec
	Lookups map[string]any
	Secrets map[string]any // secret_lookups
	// RateLimit applies to every request the role decides; nil = none.
	RateLimit *RateLimitSpec
	Origin    string
}

// GrantSpec is one allow or deny block of a role.
type GrantSpec struct {
	Deny     bool
	Upstream string
	Paths    []Glob
	Verbs    Verb
	Records  string          // JSON path of the records; used by record filters
	Filter   string          // expr-lang source as written
	Program  *filter.Program // compiled Filter; nil when Filter is ""
	// Fields is the grant's field protection (hide_fields, mask_fields);
	// nil: none.
	Fields *records.Protection
	// Plan is the records plan of a grant with a filter or field
	// protection (NewRecordPlan, NewProtectedRecordPlan); nil exactly when
	// both Program and Fields are nil.
	Plan *records.Plan
	// RateLimit applies to the requests this grant allows (never set on
	// a deny); nil = none.
	RateLimit *RateLimitSpec
	Origin    string
	// DryRun: the grant is evaluated but not enforced: Decide reports in
	// Decision.DryRun what it would have changed (would_allow,
	// would_deny), and decides as if the grant did not exist.
	DryRun bool
}

// UserSpec declares one local user.
type UserSpec struct {
	Name string
	// Password is the parsed password_hash; nil = the user cannot log in
	// with a password (e.g. only through OAuth, mapped by email).
	Password *password.Hash
	Email    string            // "" = none; matched case-insensitively
	Roles    map[string]string // app name -> role name
	Lookups  map[string]any
	Secrets  map[string]any // secret_lookups
	Active   bool
	// RateLimit applies to the user's requests, per app; nil = none.
	RateLimit *RateLimitSpec
	Origin    string
}

// AdminSpec declares one administrator: no API key, no roles, every upstream.
type AdminSpec struct {
	Name     string
	Password *password.Hash
	Active   bool
	Origin   string
}

// SessionsSpec configures session tokens (JWT).
type SessionsSpec struct {
	// Exactly one of HMACKey (HS256, at least 32 bytes) and Ed25519Key
	// (EdDSA) is set.
	HMACKey    []byte
	Ed25519Key ed25519.PrivateKey
	TTL        time.Duration // token lifetime
	RefreshTTL time.Duration // how long after login a token may be refreshed
	CacheSize  int64         // verified-token cache entries
	Issuer     string        // iss claim
	// InsecureCookie (cookie_secure = false) sets the session and OAuth
	// binding cookies without the Secure attribute, for development on
	// plain HTTP. The zero value, Secure, is the default.
	InsecureCookie bool
	Origin         string
}

// GroupRole maps one directory group to a role.
type GroupRole struct {
	Group string
	Role  string
}

// LDAPSpec declares the policy of one LDAP or Active Directory login
// provider: how its users get roles. (How to reach the directory is not
// policy: see package settings.)
type LDAPSpec struct {
	Name string
	// Roles maps app name -> groups in the order written; the first group
	// the user is in decides the role for that app.
	Roles       map[string][]GroupRole
	DefaultRole string // for members of no mapped group; "" = the app's default_role
	// Lookups are the names of the user-scope lookups the block captures
	// from the directory at login (its lookups attribute; the attribute
	// each one reads is a connection setting, settings.LDAP.Lookups).
	Lookups []string
	Origin  string
}

// OAuthSpec declares the policy of one OAuth2 / OpenID Connect login
// provider: the app it issues sessions for and the role its users get.
// (The client and its endpoints are not policy: see package settings.)
type OAuthSpec struct {
	Name        string
	App         string // the app whose sessions this provider issues
	DefaultRole string // "" = the app's default_role
	// Lookups are the names of the user-scope lookups the block captures
	// from the provider's claims at login (settings.OAuth.Lookups).
	Lookups []string
	Origin  string
	// MappedOnly admits only logins that Accounts or MatchUsername map to
	// a local user (provider "x", which vouches for no email): see
	// OAuth.Account.
	MappedOnly bool
	// Accounts maps the provider's user ids (for "x": X's numeric user
	// ids, which never change) to local user names.
	Accounts map[string]string
	// MatchUsername maps a login that Accounts does not list to the local
	// user whose name equals the provider's username, ignoring case.
	MatchUsername bool
}
