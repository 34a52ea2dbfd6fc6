package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on the lookups a login provider captures (the lookups of ldap and
// oauth blocks). A session token carries the values, and a token is at most
// a few kilobytes (session.MaxTokenBytes), so they are bounded per value
// and per session. A value over a limit is dropped, never cut: the lookup is
// then absent, and a filter comparing with it hides the records (fail
// closed).
const (
	MaxIdentityLookups     = 32   // lookups one block may declare
	MaxIdentityLookupBytes = 256  // bytes of one value
	MaxIdentityLookupTotal = 1024 // bytes of the names and values of one session together
)

// Why a captured lookup value was dropped (DroppedLookup.Why).
const (
	DropTooLong   = "longer than 256 bytes"
	DropNotText   = "not UTF-8 text without control characters"
	DropOverTotal = "over the session's 1024 bytes of lookups"
	DropTooMany   = "more than 32 lookups"
)

// DroppedLookup names a captured lookup that CapIdentityLookups dropped,
// and why; never its value.
type DroppedLookup struct {
	Name string
	Why  string
}

// CapIdentityLookups returns the captured lookup values a session may
// carry, and the ones it drops: a value longer than MaxIdentityLookupBytes,
// one that is not valid UTF-8 or holds a control character (a newline
// would end a header an upstream template renders it into), and, in the
// order of their names, the values that would take the session over
// MaxIdentityLookupTotal bytes of names and values, or over
// MaxIdentityLookups lookups. The empty string is a value and is kept. The
// result is a new map (nil when nothing is kept).
func CapIdentityLookups(vals map[string]string) (map[string]string, []DroppedLookup) {
	if len(vals) == 0 {
		return nil, nil
	}
	var out map[string]string
	var dropped []DroppedLookup
	total := 0
	for _, name := range slices.Sorted(maps.Keys(vals)) {
		v := vals[name]
		why := ""
		switch {
		case len(v) > MaxIdentityLookupBytes:
			why = DropTooLong
		case !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl):
			why = DropNotText
		case len(out) == MaxIdentityLookups:
			why = DropTooMany
		case total+len(name)+len(v) > MaxIdentityLookupTotal:
			why = DropOverTotal
		}
		if why != "" {
			dropped = append(dropped, DroppedLookup{Name: name, Why: why})
			continue
		}
		if out == nil {
			out = make(map[string]string, len(vals))
		}
		out[name] = v
		total += len(name) + len(v)
	}
	return out, dropped
}

// identityLookupNames compiles the lookup names of a login provider block.
func identityLookupNames(owner string, names []string) (map[string]bool, error) {
	if len(names) == 0 {
		return nil, nil
	}
	if len(names) > MaxIdentityLookups {
		return nil, fmt.Errorf("%s: %d lookups; at most %d", owner, len(names), MaxIdentityLookups)
	}
	m := make(map[string]bool, len(names))
	for _, n := range names {
		if n == "" || m[n] {
			return nil, fmt.Errorf("%s: empty or duplicate lookup name %q", owner, n)
		}
		m[n] = true
	}
	return m, nil
}

// capturedNames returns the names of the lookups that the login provider
// called provider captures in this snapshot, or nil.
func (s *Snapshot) capturedNames(provider string) map[string]bool {
	if l, ok := s.ldap[provider]; ok {
		return l.lookups
	}
	if o, ok := s.oauth[provider]; ok {
		return o.lookups
	}
	return nil
}

// CallerLookups is Lookups for the caller of a session whose login
// provider captured lookups (the session's Provider and its values). The
// captured values are user-scope lookups: they win over the role's, the
// app's and the system's; a local user's own lookups (an OAuth login
// mapped to a local user by email) win over them. Only the names the
// provider's block still declares in this snapshot apply: a value a
// session carries from before a reload that removed its name is ignored.
// The result is a new map the caller owns.
func (s *Snapshot) CallerLookups(app *App, role *Role, user *User, provider string, captured map[string]string) map[string]any {
	if len(captured) == 0 {
		return s.Lookups(app, role, user)
	}
	names := s.capturedNames(provider)
	if len(names) == 0 {
		return s.Lookups(app, role, user)
	}
	return s.merge(app, role, user, captured, names)
}

// LookupsOf is CallerLookups for c, as the proxy merges them for a
// request: a local user's own lookups apply, and the values c's login
// provider captured.
func (s *Snapshot) LookupsOf(c Caller) map[string]any {
	return s.CallerLookups(c.ID.App, c.ID.Role, s.lookupsUser(c), c.Provider, c.Captured)
}

// lookupsUser is the local user whose own lookups apply to c: a local
// user's session (an OAuth login mapped to one included), never an
// admin's or a directory user's; nil for none.
func (s *Snapshot) lookupsUser(c Caller) *User {
	if c.Local && !c.ID.Admin {
		return s.users[c.ID.User]
	}
	return nil
}

// CapturedLookups returns the names of the lookups the login provider
// called provider captures at login, sorted; nil for an unknown provider
// or one that captures none.
func (s *Snapshot) CapturedLookups(provider string) []string {
	return slices.Sorted(maps.Keys(s.capturedNames(provider)))
}

// capturedScope is the scope of the captured lookups that apply (see
// CallerLookups), for Explain; nil when none does.
func (s *Snapshot) capturedScope(provider string, captured map[string]string) *scope {
	names := s.capturedNames(provider)
	var sc *scope
	for k, v := range captured {
		if !names[k] {
			continue
		}
		if sc == nil {
			sc = &scope{values: make(map[string]any, len(captured))}
		}
		sc.values[k] = v
	}
	return sc
}
