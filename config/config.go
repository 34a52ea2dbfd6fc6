// Package config reads gatehouse's HCL configuration and compiles it into a
// *policy.Snapshot.
//
// It works in three phases, each returning hcl.Diagnostics rather than
// errors so that every mistake is reported at once with its file:line:col:
//
//  1. Load parses one .hcl file or every *.hcl file in a directory. It stops
//     after syntax errors, before any env() or file() call is evaluated.
//  2. Load then decodes each file into source structs (one File per file) and
//     merges them into a Config, reporting unknown blocks and attributes, bad
//     values and duplicate declarations. Every item keeps its hcl.Range.
//  3. Compile checks references between items (grants to upstreams, apps to
//     roles) and builds the immutable snapshot with policy.New.
//
// The package never logs; in particular the values returned by env() and
// file() are never logged, and diagnostics do not echo them.
package config

import (
	"net/netip"
	"net/url"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/filter"
	"github.com/gatehouse-dev/gatehouse/policy/records"
)

// Config is the merged source model of all loaded files, in declaration
// order (files sorted by name). Every item keeps its ranges so that later
// checks can point at them. Build one with Load; use Compile to turn it into
// a snapshot.
type Config struct {
	Server    *Server // never nil after Load; defaults when no server block exists
	Upstreams []*Upstream
	Apps      []*App
	Roles     []*Role
	Lookups   []*Lookup // system scope, from every lookups block
	Users     []*User
	Admins    []*Admin
	Sessions  *Sessions // nil without a sessions block
	TLS       *TLS      // nil without a tls block
	LDAP      []*LDAP
	OAuth     []*OAuth
	CORS      []*CORS  // in load order; unique, unambiguous paths
	Cluster   *Cluster // nil without a cluster block

	files    map[string]*hcl.File
	hash     string
	loadErrs bool // Load reported errors; Compile refuses to build
	decoded  bool // Load got past syntax errors and decoded the files
}

// Files returns the parsed files by name, as used in diagnostic ranges, so
// that hcl.NewDiagnosticTextWriter can print source snippets. The map and
// the files must not be modified.
func (c *Config) Files() map[string]*hcl.File { return c.files }

// Hash returns the hex SHA-256 over the loaded files: for each file in load
// order, its base name, a NUL byte and its content.
func (c *Config) Hash() string { return c.hash }

// File is what one configuration file declares, before merging. Blocks of
// the same kind keep their order of appearance.
type File struct {
	Name      string // as used in ranges
	Servers   []*Server
	Upstreams []*Upstream
	Apps      []*App
	Roles     []*Role
	Lookups   []*Lookup
	Users     []*User
	Admins    []*Admin
	Sessions  []*Sessions
	TLS       []*TLS
	LDAP      []*LDAP
	OAuth     []*OAuth
	CORS      []*CORS
	Cluster   []*Cluster
}

// Server is the decoded server block. See docs/config.md for defaults.
type Server struct {
	Listen            string
	AdminListen       string
	Production        bool
	TrustedProxies    []netip.Prefix
	MaxBodyBytes      int64
	BodyBufferBytes   int64 // 0 = stream every body
	MaxHeaderBytes    int
	IdentityHeaders   bool
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
	ShutdownDelay     time.Duration // 0 = no drain delay
	AdminTokenSHA256  *[32]byte     // nil = no static admin token
	TLSListen         string        // "" = not set (":8443" with a tls block)
	StripHeaders      []string
	KeepHeaders       []string

	DeclRange      hcl.Range // zero when no server block was declared
	TLSListenRange hcl.Range // zero unless tls_listen is set
}

// Upstream is a decoded upstream block.
type Upstream struct {
	Name    string
	URL     *url.URL
	Prefix  string
	Timeout time.Duration
	Active  bool
	Public  bool
	Headers []policy.HeaderTemplate

	DeclRange    hcl.Range
	HeadersRange hcl.Range
	NameRange    hcl.Range
	URLRange     hcl.Range
	PrefixRange  hcl.Range
}

// App is a decoded app block.
type App struct {
	Name        string
	KeySHA256   [32]byte  // api_key_sha256: an unlabeled key without expiry
	Keys        []*APIKey // api_key blocks in declaration order
	DefaultRole string    // "" when not set
	Lookups     map[string]any
	Secrets     map[string]any // secret_lookups
	Active      bool
	RateLimit   *policy.RateLimitSpec // nil = none

	DeclRange        hcl.Range
	NameRange        hcl.Range
	KeyRange         hcl.Range // zero unless KeySHA256 decoded
	DefaultRoleRange hcl.Range

	defaultRoleHidden bool // DefaultRole came from a function: do not echo it
}

// APIKey is a decoded api_key block of an app: one of its keys, by hash,
// with the label logs and metrics name it by and an optional expiry.
type APIKey struct {
	Label    string
	SHA256   [32]byte
	NotAfter time.Time // zero = no expiry

	DeclRange     hcl.Range
	LabelRange    hcl.Range
	SHA256Range   hcl.Range // zero unless SHA256 decoded
	NotAfterRange hcl.Range // zero unless not_after is set
}

// Role is a decoded role block.
type Role struct {
	Name    string
	Active  bool
	Lookups map[string]any
	Secrets map[string]any // secret_lookups
	Grants  []*Grant       // allow and deny blocks in declaration order
	// RateLimit is the role's rate_limit block; nil = none.
	RateLimit *policy.RateLimitSpec
	// DryRun: every grant of the role is evaluated and logged, not
	// enforced (as if each had dry_run = true).
	DryRun bool

	DeclRange hcl.Range
	NameRange hcl.Range
}

// Grant is a decoded allow or deny block of a role.
type Grant struct {
	Deny     bool
	Upstream string
	Paths    []policy.Glob
	Verbs    policy.Verb
	Records  string
	Filter   string          // expr-lang source, stored as written
	Program  *filter.Program // compiled Filter; nil without one
	Plan     *records.Plan   // records plan of a grant with a filter or fields; nil without both
	// Fields is the field protection of hide_fields and mask_fields; nil
	// without them.
	Fields *records.Protection
	// RateLimit is an allow block's rate_limit; nil = none.
	RateLimit *policy.RateLimitSpec
	// DryRun: the grant is evaluated and logged (would_allow,
	// would_deny), not enforced.
	DryRun bool

	DeclRange     hcl.Range
	UpstreamRange hcl.Range // the block label
	RecordsRange  hcl.Range
	FilterRange   hcl.Range
}

// Lookup is one system-scope lookup from a lookups block.
type Lookup struct {
	Name   string
	Value  any  // string, int64, float64 or bool
	Secret bool // from a secret_lookups block: never printed

	DeclRange hcl.Range // the whole "name = value" line
	NameRange hcl.Range
}
