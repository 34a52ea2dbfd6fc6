package policy

import (
	"fmt"
	"maps"
)

// scope holds the lookups of one scope (system, app, role or user): plain
// and secret ones in one map. Secrecy matters only for printing, which the
// snapshot never does (config blanks secret literals in diagnostics).
type scope struct {
	values map[string]any
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
