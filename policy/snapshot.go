package policy

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy/filter"
	"github.com/gatehouse-dev/gatehouse/policy/password"
	"github.com/gatehouse-dev/gatehouse/policy/records"
)

// Snapshot is one compiled configuration. It is immutable: build a new one
// with New to change anything.
type Snapshot struct {
	server    Server
	hash      string
	system    scope // system-scope lookups
	upstreams []*Upstream
	byName    map[string]*Upstream
	byPrefix  map[string]*Upstream
	keys      map[[32]byte]*Key // every app's API keys, by SHA-256
	appNames  map[string]*App
	roles     map[string]*Role

	sessions    *SessionsSpec
	sessionKeys *SessionKeys // nil exactly when sessions is nil
	users       map[string]*User
	emails      map[string]*User // lower-cased email -> user
	admins      map[string]*Admin
	ldap        map[string]*LDAP
	oauth       map[string]*OAuth
	dummy       *password.Hash

	cors *corsIndex // nil without cors blocks

	clientHeaders *ClientHeaders // client headers that never reach upstreams

	rateLimits     bool // some block has a rate_limit
	userRateLimits bool // some user has one
}

// Upstream is a compiled upstream.
type Upstream struct {
	id      int
	name    string
	url     *url.URL
	prefix  string
	nsegs   int // segments in prefix
	timeout time.Duration
	active  bool
	public  bool
	headers []HeaderTemplate
	origin  string
}

// Name returns the upstream's configured name.
func (u *Upstream) Name() string { return u.name }

// Index returns the upstream's position in Snapshot.Upstreams, for callers
// that keep per-upstream state in a slice.
func (u *Upstream) Index() int { return u.id }

// URL returns a copy of the upstream's base URL.
func (u *Upstream) URL() *url.URL { c := *u.url; return &c }

// Prefix returns the routed path prefix.
func (u *Upstream) Prefix() string { return u.prefix }

// Timeout returns the response timeout (0 = none).
func (u *Upstream) Timeout() time.Duration { return u.timeout }

// Active reports whether the upstream accepts traffic.
func (u *Upstream) Active() bool { return u.active }

// Public reports whether requests skip authentication and authorization.
func (u *Upstream) Public() bool { return u.public }

// Origin returns where the upstream was declared.
func (u *Upstream) Origin() string { return u.origin }

// Headers returns the header templates added to upstream requests.
func (u *Upstream) Headers() []HeaderTemplate { return u.headers }

// App is a compiled client application.
type App struct {
	name        string
	defaultRole string
	scope       scope
	active      bool
	rateLimit   *RateLimit
	origin      string
	keys        []*Key // in declaration order, api_key_sha256 first
}

// RateLimit returns the app's rate limit, or nil.
func (a *App) RateLimit() *RateLimit { return a.rateLimit }

// Name returns the app's configured name.
func (a *App) Name() string { return a.name }

// DefaultRole returns the role used when no user session is present.
func (a *App) DefaultRole() string { return a.defaultRole }

// Active reports whether the app's key is accepted.
func (a *App) Active() bool { return a.active }

// Keys returns the app's API keys in declaration order (api_key_sha256
// first).
func (a *App) Keys() []*Key { return append([]*Key(nil), a.keys...) }

// Lookup returns an app-scope lookup value.
func (a *App) Lookup(k string) (any, bool) { v, ok := a.scope.values[k]; return v, ok }

// Role is a compiled role.
type Role struct {
	name   string
	active bool
	scope  scope
	grants []*Grant
	index  []*grantIndex // by Upstream.id; nil = no grants there
	// shadow is, for a role with dry-run grants, the index of all its
	// grants, dry-run ones included, by Upstream.id: what the role would
	// decide if they were enforced. nil without dry-run grants.
	shadow    []*grantIndex
	rateLimit *RateLimit
	origin    string
}

// RateLimit returns the role's rate limit, or nil.
func (r *Role) RateLimit() *RateLimit { return r.rateLimit }

// Name returns the role's configured name.
func (r *Role) Name() string { return r.name }

// Active reports whether the role grants anything.
func (r *Role) Active() bool { return r.active }

// Grant is one compiled allow or deny block.
type Grant struct {
	order     int
	deny      bool
	upstream  string
	paths     []Glob
	verbs     Verb
	records   string
	filter    string
	program   *filter.Program
	plan      *records.Plan
	fields    *records.Protection
	rateLimit *RateLimit
	origin    string
	dryRun    bool
}

// insertGrant adds g under each of its paths to the index of upstream id
// in ixs, creating it.
func insertGrant(ixs []*grantIndex, id int, g *Grant) {
	ix := ixs[id]
	if ix == nil {
		ix = &grantIndex{}
		ixs[id] = ix
	}
	for _, p := range g.paths {
		ix.insert(p.segs, g)
	}
}

// Deny reports whether this is a deny grant.
func (g *Grant) Deny() bool { return g.deny }

// DryRun reports whether the grant is evaluated and logged but not
// enforced (dry_run = true on it or its role).
func (g *Grant) DryRun() bool { return g.dryRun }

// Upstream returns the name of the upstream the grant applies to.
func (g *Grant) Upstream() string { return g.upstream }

// Verbs returns the verbs the grant names.
func (g *Grant) Verbs() Verb { return g.verbs }

// Records returns the JSON path of records for record filters.
func (g *Grant) Records() string { return g.records }

// Filter returns the expr-lang filter source, or "".
func (g *Grant) Filter() string { return g.filter }

// Program returns the compiled filter, or nil.
func (g *Grant) Program() *filter.Program { return g.program }

// Plan returns the records plan of a grant with a filter or field
// protection (Program or Fields is not nil), or nil. Grants with the same
// records path, filter fields and field protection may share one.
func (g *Grant) Plan() *records.Plan { return g.plan }

// Fields returns the grant's field protection (hide_fields, mask_fields),
// or nil. It is also its Plan's Protection.
func (g *Grant) Fields() *records.Protection { return g.fields }

// planFits reports whether gs.Plan is the records plan its records path,
// filter and field protection need: none without a filter and fields.
func planFits(gs GrantSpec) bool {
	if gs.Program == nil && gs.Fields == nil {
		return gs.Plan == nil
	}
	fields := []string{} // no filter: no member is read
	if gs.Program != nil {
		fields = gs.Program.Fields()
	}
	return gs.Plan != nil && gs.Plan.For(gs.Records, fields) && gs.Plan.Protection().Equal(gs.Fields)
}

// RateLimit returns the grant's rate limit, or nil.
func (g *Grant) RateLimit() *RateLimit { return g.rateLimit }

// Origin returns where the grant was declared ("roles.hcl:7,3").
func (g *Grant) Origin() string { return g.origin }

// String describes the grant for logs: "allow hr GET /employees/* (roles.hcl:7,3)".
func (g *Grant) String() string {
	var b strings.Builder
	if g.deny {
		b.WriteString("deny ")
	} else {
		b.WriteString("allow ")
	}
	b.WriteString(g.upstream)
	b.WriteByte(' ')
	b.WriteString(g.verbs.String())
	for _, p := range g.paths {
		b.WriteByte(' ')
		b.WriteString(p.String())
	}
	if g.origin != "" {
		fmt.Fprintf(&b, " (%s)", g.origin)
	}
	return b.String()
}

// New compiles a Spec into a Snapshot. The config package reports user
// mistakes with positions before calling it; New re-checks the invariants it
// relies on (unique names, resolvable references, unique prefixes) and
// returns an error naming the first violation.
func New(spec Spec) (*Snapshot, error) {
	s := &Snapshot{
		server:   spec.Server,
		hash:     spec.Hash,
		byName:   make(map[string]*Upstream, len(spec.Upstreams)),
		byPrefix: make(map[string]*Upstream, len(spec.Upstreams)),
		keys:     make(map[[32]byte]*Key, len(spec.Apps)),
		appNames: make(map[string]*App, len(spec.Apps)),
		roles:    make(map[string]*Role, len(spec.Roles)),
	}
	s.server.TrustedProxies = append([]netip.Prefix(nil), spec.Server.TrustedProxies...)
	s.server.StripHeaders = append([]string(nil), spec.Server.StripHeaders...)
	s.server.KeepHeaders = append([]string(nil), spec.Server.KeepHeaders...)
	var err error
	if s.clientHeaders, err = NewClientHeaders(spec.Server.StripHeaders, spec.Server.KeepHeaders); err != nil {
		return nil, err
	}
	if s.system, err = newScope("system", spec.Lookups, spec.SecretLookups); err != nil {
		return nil, err
	}
	for i, us := range spec.Upstreams {
		if us.URL == nil || (us.URL.Scheme != "http" && us.URL.Scheme != "https") || us.URL.Host == "" {
			return nil, fmt.Errorf("upstream %q: url must be an absolute http or https URL", us.Name)
		}
		p, err := ParsePath(us.Prefix)
		if err != nil || p.Escaped != us.Prefix || (len(us.Prefix) > 1 && strings.HasSuffix(us.Prefix, "/")) {
			return nil, fmt.Errorf("upstream %q: prefix %q is not a canonical path", us.Name, us.Prefix)
		}
		if _, dup := s.byName[us.Name]; dup {
			return nil, fmt.Errorf("duplicate upstream %q", us.Name)
		}
		if other, dup := s.byPrefix[us.Prefix]; dup {
			return nil, fmt.Errorf("upstreams %q and %q claim prefix %q", other.name, us.Name, us.Prefix)
		}
		u := &Upstream{
			id: i, name: us.Name, url: cloneURL(us.URL), prefix: us.Prefix, nsegs: len(p.Segments),
			timeout: us.Timeout, active: us.Active, public: us.Public, origin: us.Origin,
			headers: append([]HeaderTemplate(nil), us.Headers...),
		}
		s.upstreams = append(s.upstreams, u)
		s.byName[u.name] = u
		s.byPrefix[u.prefix] = u
	}
	for _, rs := range spec.Roles {
		if _, dup := s.roles[rs.Name]; dup {
			return nil, fmt.Errorf("duplicate role %q", rs.Name)
		}
		r := &Role{
			name: rs.Name, active: rs.Active, origin: rs.Origin,
			index: make([]*grantIndex, len(s.upstreams)),
		}
		var err error
		if r.scope, err = newScope("role "+rs.Name, rs.Lookups, rs.Secrets); err != nil {
			return nil, err
		}
		if r.rateLimit, err = newRateLimit(RateLimitRole, rs.Name, rs.RateLimit); err != nil {
			return nil, err
		}
		for i, gs := range rs.Grants {
			_, ok := s.byName[gs.Upstream]
			if !ok {
				return nil, fmt.Errorf("role %q: grant refers to unknown upstream %q", rs.Name, gs.Upstream)
			}
			if (gs.Filter == "") != (gs.Program == nil) {
				return nil, fmt.Errorf("role %q: grant on %q has a filter that is not compiled", rs.Name, gs.Upstream)
			}
			if !planFits(gs) {
				return nil, fmt.Errorf("role %q: grant on %q has no records plan for its records, filter and fields", rs.Name, gs.Upstream)
			}
			if gs.Deny && gs.Fields != nil {
				return nil, fmt.Errorf("role %q: a deny grant on %q has field protection", rs.Name, gs.Upstream)
			}
			if gs.Verbs == 0 || len(gs.Paths) == 0 {
				return nil, fmt.Errorf("role %q: grant on %q names no verbs or no paths", rs.Name, gs.Upstream)
			}
			g := &Grant{
				order: i, deny: gs.Deny, upstream: gs.Upstream, paths: append([]Glob(nil), gs.Paths...),
				verbs: gs.Verbs, records: gs.Records, filter: gs.Filter, program: gs.Program, plan: gs.Plan, fields: gs.Fields, origin: gs.Origin,
				dryRun: gs.DryRun,
			}
			if gs.RateLimit != nil && gs.Deny {
				return nil, fmt.Errorf("role %q: a deny grant on %q has a rate_limit", rs.Name, gs.Upstream)
			}
			if g.rateLimit, err = newRateLimit(RateLimitGrant, rs.Name+":"+strconv.Itoa(i), gs.RateLimit); err != nil {
				return nil, err
			}
			r.grants = append(r.grants, g)
			for _, p := range g.paths {
				if p.raw == "" {
					return nil, fmt.Errorf("role %q: grant on %q has an empty path pattern", rs.Name, gs.Upstream)
				}
			}
		}
		// The enforced index holds the grants without dry_run; with any
		// dry-run grant, the shadow index holds them all.
		for _, g := range r.grants {
			if g.dryRun {
				r.shadow = make([]*grantIndex, len(s.upstreams))
				break
			}
		}
		for _, g := range r.grants {
			u := s.byName[g.upstream]
			if !g.dryRun {
				insertGrant(r.index, u.id, g)
			}
			if r.shadow != nil {
				insertGrant(r.shadow, u.id, g)
			}
		}
		for _, ixs := range [][]*grantIndex{r.index, r.shadow} {
			for _, ix := range ixs {
				if ix != nil {
					_, _ = ix.root.finish()
				}
			}
		}
		s.roles[r.name] = r
	}
	for _, as := range spec.Apps {
		if _, dup := s.appNames[as.Name]; dup {
			return nil, fmt.Errorf("duplicate app %q", as.Name)
		}
		if as.DefaultRole != "" {
			if _, ok := s.roles[as.DefaultRole]; !ok {
				return nil, fmt.Errorf("app %q: unknown default_role %q", as.Name, as.DefaultRole)
			}
		}
		a := &App{name: as.Name, defaultRole: as.DefaultRole, active: as.Active, origin: as.Origin}
		var err error
		if a.scope, err = newScope("app "+as.Name, as.Lookups, as.Secrets); err != nil {
			return nil, err
		}
		if a.rateLimit, err = newRateLimit(RateLimitApp, as.Name, as.RateLimit); err != nil {
			return nil, err
		}
		if err := s.addKeys(a, as); err != nil {
			return nil, err
		}
		s.appNames[a.name] = a
	}
	if err := s.buildIdentities(spec); err != nil {
		return nil, err
	}
	s.rateLimits = s.userRateLimits
	for _, a := range s.appNames {
		s.rateLimits = s.rateLimits || a.rateLimit != nil
	}
	for _, r := range s.roles {
		s.rateLimits = s.rateLimits || r.rateLimit != nil
		for _, g := range r.grants {
			s.rateLimits = s.rateLimits || g.rateLimit != nil
		}
	}
	if s.cors, err = newCORSIndex(spec.CORS); err != nil {
		return nil, err
	}
	return s, nil
}

func cloneURL(u *url.URL) *url.URL {
	c := *u
	if u.User != nil {
		ui := *u.User
		c.User = &ui
	}
	return &c
}

// Server returns the request-handling server settings. TrustedProxies,
// StripHeaders and KeepHeaders are copies.
func (s *Snapshot) Server() Server {
	v := s.server
	v.TrustedProxies = append([]netip.Prefix(nil), s.server.TrustedProxies...)
	v.StripHeaders = append([]string(nil), s.server.StripHeaders...)
	v.KeepHeaders = append([]string(nil), s.server.KeepHeaders...)
	return v
}

// Production reports whether error details are hidden from clients.
func (s *Snapshot) Production() bool { return s.server.Production }

// MaxBodyBytes returns the request body limit (0 = none).
func (s *Snapshot) MaxBodyBytes() int64 { return s.server.MaxBodyBytes }

// BodyBufferBytes returns the size up to which request bodies are read
// whole before the upstream is dialled (0 = never).
func (s *Snapshot) BodyBufferBytes() int64 { return s.server.BodyBufferBytes }

// IdentityHeaders reports whether X-Gatehouse-* headers go to upstreams.
func (s *Snapshot) IdentityHeaders() bool { return s.server.IdentityHeaders }

// ClientHeaders returns the rules for client headers that never reach an
// upstream (the default list with strip_headers and keep_headers).
func (s *Snapshot) ClientHeaders() *ClientHeaders { return s.clientHeaders }

// TrustsProxy reports whether addr is in trusted_proxies.
func (s *Snapshot) TrustsProxy(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range s.server.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Hash returns the configuration hash given in the Spec.
func (s *Snapshot) Hash() string { return s.hash }

// Upstreams returns the upstreams in declaration order.
func (s *Snapshot) Upstreams() []*Upstream { return append([]*Upstream(nil), s.upstreams...) }

// Upstream returns the upstream with the given name.
func (s *Snapshot) Upstream(name string) (*Upstream, bool) { u, ok := s.byName[name]; return u, ok }

// Role returns the role with the given name.
func (s *Snapshot) Role(name string) (*Role, bool) { r, ok := s.roles[name]; return r, ok }

// App returns the app with the given name.
func (s *Snapshot) App(name string) (*App, bool) { a, ok := s.appNames[name]; return a, ok }

// Lookup returns a system-scope lookup value.
func (s *Snapshot) Lookup(k string) (any, bool) { v, ok := s.system.values[k]; return v, ok }

// FilteredGrants returns every grant that carries a record filter.
func (s *Snapshot) FilteredGrants() []*Grant {
	var out []*Grant
	for _, r := range s.roles {
		for _, g := range r.grants {
			if g.program != nil {
				out = append(out, g)
			}
		}
	}
	return out
}
