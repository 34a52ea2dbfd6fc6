package policy

import (
	"fmt"
	"maps"
)

// scope holds the lookups of one scope (system, app, role or user): plain
// and secret ones in one map, and the secret names.
type scope struct {
	values  map[string]any
	secrets map[string]bool
}

func newScope(owner string, plain, secret map[string]any) (scope, error) {
	sc := scope{values: maps.Clone(plain)}
	if sc.values == nil {
		sc.values = map[string]any{}
	}
	for k, v := range secret {
		if _, dup := sc.values[k]; dup {
			return scope{}, fmt.Errorf("%s: lookup %q is both a lookup and a secret lookup", owner, k)
		}
		sc.values[k] = v
		if sc.secrets == nil {
			sc.secrets = map[string]bool{}
		}
		sc.secrets[k] = true
	}
	return sc, nil
}

// Lookups merges the lookups that apply to a request, the most specific
// scope winning: user > role > app > system. Any argument may be nil. The
// result is a new map the caller owns.
func (s *Snapshot) Lookups(app *App, role *Role, user *User) map[string]any {
	n := len(s.system.values)
	if app != nil {
		n += len(app.scope.values)
	}
	if role != nil {
		n += len(role.scope.values)
	}
	if user != nil {
		n += len(user.scope.values)
	}
	out := make(map[string]any, n)
	maps.Copy(out, s.system.values)
	if app != nil {
		maps.Copy(out, app.scope.values)
	}
	if role != nil {
		maps.Copy(out, role.scope.values)
	}
	if user != nil {
		maps.Copy(out, user.scope.values)
	}
	return out
}

// LookupNames returns every lookup name defined in any scope, for
// checking filters and header templates at load time.
func (s *Snapshot) LookupNames() map[string]bool {
	out := map[string]bool{}
	add := func(sc scope) {
		for k := range sc.values {
			out[k] = true
		}
	}
	add(s.system)
	for _, a := range s.appNames {
		add(a.scope)
	}
	for _, r := range s.roles {
		add(r.scope)
	}
	for _, u := range s.users {
		add(u.scope)
	}
	return out
}

// IsSecretLookup reports whether name is a secret lookup in any scope:
// its value must never be printed.
func (s *Snapshot) IsSecretLookup(name string) bool {
	if s.system.secrets[name] {
		return true
	}
	for _, a := range s.appNames {
		if a.scope.secrets[name] {
			return true
		}
	}
	for _, r := range s.roles {
		if r.scope.secrets[name] {
			return true
		}
	}
	for _, u := range s.users {
		if u.scope.secrets[name] {
			return true
		}
	}
	return false
}
