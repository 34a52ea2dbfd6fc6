package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/policy/password"
)

// User is a compiled local user.
type User struct {
	name      string
	password  *password.Hash
	email     string
	roles     map[string]*Role // by app name
	scope     scope
	active    bool
	rateLimit *RateLimit
	origin    string
}

// Name returns the user's name.
func (u *User) Name() string { return u.name }

// Email returns the configured email address, or "".
func (u *User) Email() string { return u.email }

// RateLimit returns the user's rate limit, or nil.
func (u *User) RateLimit() *RateLimit { return u.rateLimit }

// Active reports whether the user may log in and use sessions.
func (u *User) Active() bool { return u.active }

// Password returns the password hash, or nil when the user has none.
func (u *User) Password() *password.Hash { return u.password }

// Lookup returns a user-scope lookup value.
func (u *User) Lookup(k string) (any, bool) { v, ok := u.scope.values[k]; return v, ok }

// Admin is a compiled administrator.
type Admin struct {
	name     string
	password *password.Hash
	active   bool
	origin   string
}

// Name returns the admin's name.
func (a *Admin) Name() string { return a.name }

// Active reports whether the admin may log in and use sessions.
func (a *Admin) Active() bool { return a.active }

// Password returns the password hash.
func (a *Admin) Password() *password.Hash { return a.password }

// LDAP is a compiled LDAP login provider: how its users get roles.
type LDAP struct {
	name    string
	roles   map[string][]groupRole // by app name
	dflt    *Role
	lookups map[string]bool // names of the lookups captured at login
}

type groupRole struct {
	group string // compared case-insensitively, like directory names
	role  *Role
}

// Name returns the provider's block label.
func (l *LDAP) Name() string { return l.name }

// OAuth is a compiled OAuth2/OIDC login provider: the app it issues
// sessions for and its users' role.
type OAuth struct {
	name    string
	app     *App
	dflt    *Role
	lookups map[string]bool // names of the lookups captured at login
	// mappedOnly, accounts and byName: see OAuthSpec and Account.
	mappedOnly bool
	accounts   map[string]*User // provider user id -> local user
	byName     map[string]*User // lower-cased local name -> user; nil = no username matching
}

// Name returns the provider's block label.
func (o *OAuth) Name() string { return o.name }

// App returns the app whose sessions the provider issues.
func (o *OAuth) App() *App { return o.app }

// MappedOnly reports whether the provider admits only logins that Account
// maps to a local user (provider "x"); the others are refused.
func (o *OAuth) MappedOnly() bool { return o.mappedOnly }

// How Account found the local user.
const (
	MappedByID       = "id"
	MappedByUsername = "username"
)

// Account returns the local user a login through o maps to: the one o's
// accounts table names for the provider's user id subject, else, when o
// matches usernames, the one whose name equals username ignoring case
// (ASCII; New refuses local names that differ only in case then). by is
// MappedByID or MappedByUsername; ok false means no local user. The user
// may be inactive: the caller refuses such a login. A username is the
// weaker key: its owner can give it up and someone else can take it.
func (o *OAuth) Account(subject, username string) (u *User, by string, ok bool) {
	if u, ok := o.accounts[subject]; ok && subject != "" {
		return u, MappedByID, true
	}
	if o.byName != nil && username != "" {
		if u, ok := o.byName[strings.ToLower(username)]; ok {
			return u, MappedByUsername, true
		}
	}
	return nil, "", false
}

// ProviderLocal is the provider name of local (password) users.
const ProviderLocal = "local"

// Subject is the user half of a verified session: who logged in and how.
// Nothing in it is a role: roles are resolved from the current snapshot on
// every request (see Snapshot.UserRole).
type Subject struct {
	Name     string   // user name (local), directory user name (LDAP) or provider subject (OAuth)
	Provider string   // ProviderLocal, an ldap block name or an oauth block name
	Local    bool     // Name is a local user (password login, or OAuth mapped by email or account)
	Groups   []string // directory groups (LDAP)
}

// Reasons for refusing a session's subject.
const (
	ReasonUnknownUser     Reason = "unknown_user"
	ReasonUserInactive    Reason = "user_inactive"
	ReasonUnknownProvider Reason = "unknown_provider"
)

// UserRole resolves the role of a session's subject for app in this
// snapshot: a local user's role for the app; an LDAP user's first mapped
// group, else the ldap block's default_role; an OAuth user's provider
// default_role; in every case falling back to the app's default_role. A nil
// role with an empty reason means "authenticated, but no role" (Decide then
// refuses with no_role). A non-empty reason means the subject itself is no
// longer valid (removed or deactivated user, removed provider): 401.
func (s *Snapshot) UserRole(app *App, sub Subject) (*Role, *User, Reason) {
	var role *Role
	var user *User
	switch {
	case sub.Local:
		u, ok := s.users[sub.Name]
		if !ok {
			return nil, nil, ReasonUnknownUser
		}
		if !u.active {
			return nil, u, ReasonUserInactive
		}
		user = u
		role = u.roles[app.name]
		if sub.Provider != ProviderLocal {
			// An OAuth login mapped to this user by email: the provider
			// must still exist for the session to stay valid.
			if _, ok := s.oauth[sub.Provider]; !ok {
				return nil, nil, ReasonUnknownProvider
			}
		}
	default:
		if l, ok := s.ldap[sub.Provider]; ok {
			role = l.roleFor(app.name, sub.Groups)
			break
		}
		if o, ok := s.oauth[sub.Provider]; ok {
			role = o.dflt
			break
		}
		return nil, nil, ReasonUnknownProvider
	}
	if role == nil && app.defaultRole != "" {
		role = s.roles[app.defaultRole]
	}
	return role, user, ""
}

// buildAccounts compiles oc's mapping of provider accounts to local users:
// every user named must exist, and with MatchUsername no two local names
// may differ only in case.
func (s *Snapshot) buildAccounts(o *OAuth, oc OAuthSpec) error {
	if len(oc.Accounts) > 0 {
		o.accounts = make(map[string]*User, len(oc.Accounts))
	}
	for id, name := range oc.Accounts {
		u, ok := s.users[name]
		if !ok || id == "" {
			return fmt.Errorf("oauth %q: account %q: unknown user %q", oc.Name, id, name)
		}
		o.accounts[id] = u
	}
	if !oc.MatchUsername {
		return nil
	}
	o.byName = make(map[string]*User, len(s.users))
	for name, u := range s.users {
		k := strings.ToLower(name)
		if other, dup := o.byName[k]; dup {
			a, b := min(name, other.name), max(name, other.name)
			return fmt.Errorf("oauth %q: match_username: users %q and %q differ only in case", oc.Name, a, b)
		}
		o.byName[k] = u
	}
	return nil
}

// roleFor returns the role of the first mapped group (in the order the
// config lists them) that groups contains, else the block's default role.
func (l *LDAP) roleFor(app string, groups []string) *Role {
	for _, gr := range l.roles[app] {
		for _, g := range groups {
			if strings.EqualFold(g, gr.group) {
				return gr.role
			}
		}
	}
	return l.dflt
}

// User returns the local user with the given name.
func (s *Snapshot) User(name string) (*User, bool) { u, ok := s.users[name]; return u, ok }

// UserByEmail returns the local user whose email equals addr, ignoring
// case. Emails are unique among users (New refuses duplicates).
func (s *Snapshot) UserByEmail(addr string) (*User, bool) {
	u, ok := s.emails[strings.ToLower(addr)]
	return u, ok
}

// Admin returns the admin with the given name.
func (s *Snapshot) Admin(name string) (*Admin, bool) { a, ok := s.admins[name]; return a, ok }

// LDAP returns the LDAP provider with the given block name.
func (s *Snapshot) LDAP(name string) (*LDAP, bool) { l, ok := s.ldap[name]; return l, ok }

// OAuth returns the OAuth provider with the given block name.
func (s *Snapshot) OAuth(name string) (*OAuth, bool) { o, ok := s.oauth[name]; return o, ok }

// Sessions returns the session settings, or nil when logins are off.
func (s *Snapshot) Sessions() *SessionsSpec { return s.sessions }

// SessionKeys returns the compiled session keys, or nil when logins are
// off (exactly when Sessions is nil).
func (s *Snapshot) SessionKeys() *SessionKeys { return s.sessionKeys }

// DummyPassword returns a hash with the cost of the configured users'
// hashes, to verify against when a login names an unknown user so that
// unknown users and wrong passwords take about the same time. It is nil
// when no user or admin has a password.
func (s *Snapshot) DummyPassword() *password.Hash { return s.dummy }

// buildIdentities compiles users, admins and login providers. Roles and
// apps must already be built.
func (s *Snapshot) buildIdentities(spec Spec) error {
	if spec.Sessions == nil && (len(spec.Users) > 0 || len(spec.Admins) > 0 || len(spec.LDAP) > 0 || len(spec.OAuth) > 0) {
		return fmt.Errorf("users, admins and login providers need a sessions block")
	}
	if ss := spec.Sessions; ss != nil {
		keys, err := NewSessionKeys(ss)
		if err != nil {
			return err
		}
		s.sessionKeys = keys
		if ss.TTL <= 0 || ss.RefreshTTL < ss.TTL || ss.CacheSize <= 0 || ss.Issuer == "" {
			return fmt.Errorf("sessions: ttl, refresh_ttl, cache_size or issuer out of range")
		}
		c := *ss
		c.HMACKey = slices.Clone(ss.HMACKey)
		c.Ed25519Key = slices.Clone(ss.Ed25519Key)
		s.sessions = &c
	}
	role := func(owner, name string) (*Role, error) {
		if name == "" {
			return nil, nil
		}
		r, ok := s.roles[name]
		if !ok {
			return nil, fmt.Errorf("%s: unknown role %q", owner, name)
		}
		return r, nil
	}
	s.users = make(map[string]*User, len(spec.Users))
	s.emails = make(map[string]*User)
	for _, us := range spec.Users {
		if _, dup := s.users[us.Name]; dup {
			return fmt.Errorf("duplicate user %q", us.Name)
		}
		u := &User{name: us.Name, password: us.Password, email: us.Email,
			active: us.Active, origin: us.Origin, roles: make(map[string]*Role, len(us.Roles))}
		var err error
		if u.scope, err = newScope("user "+us.Name, us.Lookups, us.Secrets); err != nil {
			return err
		}
		if u.rateLimit, err = newRateLimit(RateLimitUser, us.Name, us.RateLimit); err != nil {
			return err
		}
		s.userRateLimits = s.userRateLimits || u.rateLimit != nil
		for app, rn := range us.Roles {
			if _, ok := s.appNames[app]; !ok {
				return fmt.Errorf("user %q: unknown app %q", us.Name, app)
			}
			r, err := role("user "+us.Name, rn)
			if err != nil {
				return err
			}
			u.roles[app] = r
		}
		if us.Email != "" {
			k := strings.ToLower(us.Email)
			if other, dup := s.emails[k]; dup {
				return fmt.Errorf("users %q and %q have the same email", other.name, us.Name)
			}
			s.emails[k] = u
		}
		s.users[u.name] = u
		if s.dummy == nil && us.Password != nil {
			s.dummy = us.Password.Dummy()
		}
	}
	s.admins = make(map[string]*Admin, len(spec.Admins))
	for _, as := range spec.Admins {
		if _, dup := s.admins[as.Name]; dup {
			return fmt.Errorf("duplicate admin %q", as.Name)
		}
		if as.Password == nil {
			return fmt.Errorf("admin %q has no password hash", as.Name)
		}
		s.admins[as.Name] = &Admin{name: as.Name, password: as.Password, active: as.Active, origin: as.Origin}
		if s.dummy == nil {
			s.dummy = as.Password.Dummy()
		}
	}
	s.ldap = make(map[string]*LDAP, len(spec.LDAP))
	s.oauth = make(map[string]*OAuth, len(spec.OAuth))
	for _, ls := range spec.LDAP {
		if _, dup := s.ldap[ls.Name]; dup {
			return fmt.Errorf("duplicate ldap %q", ls.Name)
		}
		l := &LDAP{name: ls.Name, roles: make(map[string][]groupRole, len(ls.Roles))}
		var err error
		if l.lookups, err = identityLookupNames("ldap "+ls.Name, ls.Lookups); err != nil {
			return err
		}
		if l.dflt, err = role("ldap "+ls.Name, ls.DefaultRole); err != nil {
			return err
		}
		for app, grs := range ls.Roles {
			if _, ok := s.appNames[app]; !ok {
				return fmt.Errorf("ldap %q: unknown app %q", ls.Name, app)
			}
			for _, gr := range grs {
				r, err := role("ldap "+ls.Name, gr.Role)
				if err != nil || r == nil {
					return fmt.Errorf("ldap %q: group %q: unknown role %q", ls.Name, gr.Group, gr.Role)
				}
				l.roles[app] = append(l.roles[app], groupRole{group: gr.Group, role: r})
			}
		}
		s.ldap[ls.Name] = l
	}
	for _, oc := range spec.OAuth {
		if _, dup := s.oauth[oc.Name]; dup {
			return fmt.Errorf("duplicate oauth %q", oc.Name)
		}
		if _, dup := s.ldap[oc.Name]; dup || oc.Name == ProviderLocal {
			return fmt.Errorf("oauth %q: the name is already used by another login provider", oc.Name)
		}
		app, ok := s.appNames[oc.App]
		if !ok {
			return fmt.Errorf("oauth %q: unknown app %q", oc.Name, oc.App)
		}
		o := &OAuth{name: oc.Name, app: app, mappedOnly: oc.MappedOnly}
		var err error
		if o.lookups, err = identityLookupNames("oauth "+oc.Name, oc.Lookups); err != nil {
			return err
		}
		if o.dflt, err = role("oauth "+oc.Name, oc.DefaultRole); err != nil {
			return err
		}
		if err := s.buildAccounts(o, oc); err != nil {
			return err
		}
		s.oauth[oc.Name] = o
	}
	if _, ok := s.ldap[ProviderLocal]; ok {
		return fmt.Errorf("ldap %q: the name is reserved for local users", ProviderLocal)
	}
	return nil
}

// ValidXUserID reports whether s has the form of an X user id: 1 to 20
// decimal digits (a 64-bit number), without a leading zero. config checks
// an x block's users table with it, the login X's users/me answer.
func ValidXUserID(s string) bool {
	if s == "" || len(s) > 20 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
