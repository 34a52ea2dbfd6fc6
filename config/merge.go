package config

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// merge appends the decoded files to c in load order and reports what may
// be declared only once across all of them: the server block, upstream, app
// and role names, lookup names, upstream prefixes and API key hashes. The
// first declaration wins and the later one is blamed, with Detail pointing
// back at the first. A duplicate name is dropped; other duplicates are kept
// so that references to them still resolve.
func (c *Config) merge(files []*File) hcl.Diagnostics {
	m := merger{
		c:         c,
		upstreams: make(map[string]*Upstream),
		prefixes:  make(map[string]*Upstream),
		apps:      make(map[string]*App),
		keys:      make(map[[32]byte]keyDecl),
		roles:     make(map[string]*Role),
		lookups:   make(map[string]*Lookup),
		users:     make(map[string]*User),
		emails:    make(map[string]*User),
		admins:    make(map[string]*Admin),
		providers: make(map[string]hcl.Range),
	}
	for _, f := range files {
		for _, s := range f.Servers {
			onlyOne(&m, &m.c.Server, s, s.DeclRange, summaryDuplicateServer, "server", " Merge the two.")
		}
		for _, u := range f.Upstreams {
			m.upstream(u)
		}
		for _, a := range f.Apps {
			m.app(a)
		}
		for _, r := range f.Roles {
			m.role(r)
		}
		for _, l := range f.Lookups {
			m.lookup(l)
		}
		for _, u := range f.Users {
			m.user(u)
		}
		for _, a := range f.Admins {
			m.admin(a)
		}
		for _, s := range f.Sessions {
			onlyOne(&m, &m.c.Sessions, s, s.DeclRange, summaryDuplicateSessions, "sessions", "")
		}
		for _, t := range f.TLS {
			onlyOne(&m, &m.c.TLS, t, t.DeclRange, summaryDuplicateTLS, "tls", " Merge the two.")
		}
		for _, l := range f.LDAP {
			if m.provider(l.Spec.Name, l.NameRange, l.DeclRange) {
				m.c.LDAP = append(m.c.LDAP, l)
			}
		}
		for _, o := range f.OAuth {
			if m.provider(o.Spec.Name, o.NameRange, o.DeclRange) {
				m.c.OAuth = append(m.c.OAuth, o)
			}
		}
		m.c.CORS = append(m.c.CORS, f.CORS...)
		for _, cl := range f.Cluster {
			onlyOne(&m, &m.c.Cluster, cl, cl.DeclRange, summaryDuplicateCluster, "cluster", " Merge the two.")
		}
	}
	var cd hcl.Diagnostics
	c.CORS, cd = checkCORSPaths(c.CORS)
	m.diags = append(m.diags, cd...)
	if c.Server == nil {
		c.Server = defaultServer()
	}
	m.diags = append(m.diags, c.checkTLS()...)
	return m.diags
}

// merger holds the first declaration of everything that must be unique.
type merger struct {
	c         *Config
	diags     hcl.Diagnostics
	upstreams map[string]*Upstream
	prefixes  map[string]*Upstream
	apps      map[string]*App
	keys      map[[32]byte]keyDecl // every app's key hashes
	roles     map[string]*Role
	lookups   map[string]*Lookup
	users     map[string]*User
	emails    map[string]*User // lower-cased
	admins    map[string]*Admin
	providers map[string]hcl.Range // ldap and oauth names share one namespace
	singles   map[string]hcl.Range // server, sessions, tls, cluster: where the first was declared
}

func (m *merger) user(u *User) {
	if first, dup := m.users[u.Name]; dup {
		m.diags = append(m.diags, duplicateName(summaryDuplicateUser, "user", u.Name, u.NameRange, first.NameRange, u.DeclRange))
		return
	}
	m.users[u.Name] = u
	m.c.Users = append(m.c.Users, u)
	if u.Email == "" {
		return
	}
	k := strings.ToLower(u.Email)
	if first, dup := m.emails[k]; dup {
		m.diags = append(m.diags, errorAt(summaryDuplicateEmail,
			fmt.Sprintf("Users %q and %q have the same email; %s. Emails identify users who log in through OAuth, so each must be unique.",
				first.Name, u.Name, firstDeclared(first.EmailRange)),
			u.EmailRange, u.DeclRange.Ptr()))
		return
	}
	m.emails[k] = u
}

func (m *merger) admin(a *Admin) {
	if first, dup := m.admins[a.Name]; dup {
		m.diags = append(m.diags, duplicateName(summaryDuplicateAdmin, "admin", a.Name, a.NameRange, first.NameRange, a.DeclRange))
		return
	}
	m.admins[a.Name] = a
	m.c.Admins = append(m.c.Admins, a)
}

// provider registers an ldap or oauth name; it reports false for a
// duplicate. "local" names the local users and cannot be taken.
func (m *merger) provider(name string, at, decl hcl.Range) bool {
	if name == policy.ProviderLocal {
		m.diags = append(m.diags, errorAt(summaryDuplicateProvider,
			fmt.Sprintf("%q is the provider name of local users; choose another name.", name), at, decl.Ptr()))
		return false
	}
	if first, dup := m.providers[name]; dup {
		m.diags = append(m.diags, duplicateName(summaryDuplicateProvider, "login provider", name, at, first, decl))
		return false
	}
	m.providers[name] = at
	return true
}

func (m *merger) upstream(u *Upstream) {
	if first, dup := m.upstreams[u.Name]; dup {
		m.diags = append(m.diags, duplicateName(summaryDuplicateUpstream, "upstream", u.Name, u.NameRange, first.NameRange, u.DeclRange))
		return
	}
	m.upstreams[u.Name] = u
	m.c.Upstreams = append(m.c.Upstreams, u)
	if u.Prefix == "" { // missing or invalid, already reported
		return
	}
	if first, dup := m.prefixes[u.Prefix]; dup {
		m.diags = append(m.diags, errorAt(summaryDuplicatePrefix,
			fmt.Sprintf("Upstream %q claims prefix %q, which upstream %q already claims; %s. Give each upstream its own prefix.",
				u.Name, u.Prefix, first.Name, firstDeclared(first.PrefixRange)),
			u.PrefixRange, u.DeclRange.Ptr()))
		return
	}
	m.prefixes[u.Prefix] = u
}

func (m *merger) app(a *App) {
	if first, dup := m.apps[a.Name]; dup {
		m.diags = append(m.diags, duplicateName(summaryDuplicateApp, "app", a.Name, a.NameRange, first.NameRange, a.DeclRange))
		return
	}
	m.apps[a.Name] = a
	m.c.Apps = append(m.c.Apps, a)
	if a.KeyRange != (hcl.Range{}) { // else missing or invalid, already reported
		m.key(a, a.KeySHA256, a.KeyRange, a.DeclRange)
	}
	for _, k := range a.Keys {
		if k.SHA256Range != (hcl.Range{}) {
			m.key(a, k.SHA256, k.SHA256Range, k.DeclRange)
		}
	}
}

// keyDecl is where a key hash was declared, for duplicate diagnostics.
type keyDecl struct {
	app *App
	rng hcl.Range
}

// key records one of a's key hashes, refusing one that any key of any
// app already has: a key identifies one app, and one key of it.
func (m *merger) key(a *App, sum [32]byte, rng, context hcl.Range) {
	first, dup := m.keys[sum]
	if !dup {
		m.keys[sum] = keyDecl{app: a, rng: rng}
		return
	}
	detail := fmt.Sprintf("App %q has the same API key hash as app %q; %s. Each app needs its own keys: run `gatehouse keygen`.",
		a.Name, first.app.Name, firstDeclared(first.rng))
	if first.app == a {
		detail = fmt.Sprintf("App %q lists the same API key hash twice; %s. Remove one.", a.Name, firstDeclared(first.rng))
	}
	m.diags = append(m.diags, errorAt(summaryDuplicateKey, detail, rng, context.Ptr()))
}

func (m *merger) role(r *Role) {
	if first, dup := m.roles[r.Name]; dup {
		m.diags = append(m.diags, duplicateName(summaryDuplicateRole, "role", r.Name, r.NameRange, first.NameRange, r.DeclRange))
		return
	}
	m.roles[r.Name] = r
	m.c.Roles = append(m.c.Roles, r)
}

func (m *merger) lookup(l *Lookup) {
	if first, dup := m.lookups[l.Name]; dup {
		m.diags = append(m.diags, errorAt(summaryDuplicateLookup,
			fmt.Sprintf("Lookup %q is set twice; %s. Remove one.", l.Name, firstDeclared(first.NameRange)),
			l.NameRange, l.DeclRange.Ptr()))
		return
	}
	m.lookups[l.Name] = l
	m.c.Lookups = append(m.c.Lookups, l)
}

// duplicateName reports a second declaration of a name, at its label.
func duplicateName(summary, kind, name string, at, first, decl hcl.Range) *hcl.Diagnostic {
	return errorAt(summary,
		fmt.Sprintf("The %s name %q is already used; %s. Rename or remove one of them.", kind, name, firstDeclared(first)),
		at, decl.Ptr())
}

// onlyOne keeps v, a block of which one is allowed across all files
// (server, sessions, tls, cluster), in *slot, or reports it at decl as a
// duplicate of the one already there.
func onlyOne[T any](m *merger, slot **T, v *T, decl hcl.Range, summary, kind, hint string) {
	if first, dup := m.singles[kind]; dup {
		m.diags = append(m.diags, errorAt(summary,
			fmt.Sprintf("Only one %s block is allowed across all files; %s.%s", kind, firstDeclared(first), hint),
			decl, nil))
		return
	}
	if m.singles == nil {
		m.singles = map[string]hcl.Range{}
	}
	m.singles[kind] = decl
	*slot = v
}
