package policy

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
)

// scope holds the lookups of one scope (system, app, role or user): plain
// and secret ones in one map. Secrecy matters only for printing: Explain
// prints a secret lookup as "(secret)", and config blanks secret literals
// in diagnostics.
type scope struct {
	values map[string]any
	secret map[string]bool // names of the secret lookups; nil without any
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
		if sc.secret == nil {
			sc.secret = make(map[string]bool, len(secret))
		}
		sc.secret[k] = true
	}
	return sc, nil
}

// Lookups merges the lookups that apply to a request, the most specific
// scope winning: user > role > app > system. Any argument may be nil. The
// result is a new map the caller owns.
func (s *Snapshot) Lookups(app *App, role *Role, user *User) map[string]any {
	return s.merge(app, role, user, nil, nil)
}

// merge merges the scopes' lookups, most specific winning, with the
// captured values whose names are in names between role and user (see
// CallerLookups).
func (s *Snapshot) merge(app *App, role *Role, user *User, captured map[string]string, names map[string]bool) map[string]any {
	n := len(s.system.values) + len(captured)
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
	for k, v := range captured {
		if names[k] {
			out[k] = v
		}
	}
	if user != nil {
		maps.Copy(out, user.scope.values)
	}
	return out
}

// LookupString is a lookup's value as a header template renders it.
func LookupString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}

// HeaderCaller is what upstream header templates read about a caller.
type HeaderCaller struct {
	ID       Identity
	Email    string         // the session's e-mail address, or ""
	Provider string         // the session's provider, or ""
	Lookups  map[string]any // the caller's merged lookups (Snapshot.Lookups)
}

// Resolve returns the value of a template placeholder ("lookup.NAME",
// "user.name", …) for c; ok is false when it has none. HeaderTemplate.Render
// takes it.
func (c *HeaderCaller) Resolve(ref string) (string, bool) {
	if name, ok := strings.CutPrefix(ref, "lookup."); ok {
		v, ok := c.Lookups[name]
		if !ok {
			return "", false
		}
		return LookupString(v), true
	}
	var v string
	switch ref {
	case "user.name":
		v = c.ID.User
	case "user.email":
		v = c.Email
	case "user.provider":
		v = c.Provider
	case "app.name":
		if c.ID.App != nil {
			v = c.ID.App.Name()
		}
	case "role.name":
		if c.ID.Role != nil {
			v = c.ID.Role.Name()
		}
	}
	return v, v != ""
}
