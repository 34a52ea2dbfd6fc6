package policy

import (
	"net/netip"
	"net/url"
	"time"
)

// Spec is the input to New: configuration already parsed and checked by the
// config package, with every value in its final type. Origin fields name where
// an item was declared ("api.hcl:12,3") for logs and explain output.
type Spec struct {
	Server    Server
	Lookups   map[string]any // system-scope lookups
	Upstreams []UpstreamSpec
	Apps      []AppSpec
	Roles     []RoleSpec
	// Hash identifies the configuration source (e.g. sha256 of the files),
	// reported on reload and by /readyz.
	Hash string
}

// Server holds listener and request-handling settings. Listen addresses are
// read at start; the rest applies per request and follows reloads.
type Server struct {
	Listen      string // public listener, default ":8080"
	AdminListen string // health and admin, default "127.0.0.1:9901"
	// Production hides error details from clients: they get a status, a
	// generic message and a request id; the log gets the rest.
	Production     bool
	TrustedProxies []netip.Prefix // peers whose X-Forwarded-For is believed
	MaxBodyBytes   int64          // request bodies above this get 413
	MaxHeaderBytes int            // request headers above this get 431
	// IdentityHeaders adds X-Gatehouse-App/-Role/-User to upstream requests.
	IdentityHeaders   bool
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
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
	Origin string
}

// AppSpec declares one client application.
type AppSpec struct {
	Name        string
	KeySHA256   [32]byte
	DefaultRole string // may be empty: the app then has no access without a user
	Lookups     map[string]any
	Active      bool
	Origin      string
}

// RoleSpec declares one role and its grants in declaration order.
type RoleSpec struct {
	Name    string
	Active  bool
	Grants  []GrantSpec
	Lookups map[string]any
	Origin  string
}

// GrantSpec is one allow or deny block of a role.
type GrantSpec struct {
	Deny     bool
	Upstream string
	Paths    []Glob
	Verbs    Verb
	Records  string // JSON path of the records; used by record filters
	Filter   string // expr-lang source; compiled by the filter stage
	Origin   string
}
