package policy

import (
	"errors"
	"fmt"
	"strings"
)

// HeaderTemplate is one request header an upstream gets, with placeholders
// resolved per request: {lookup.NAME}, {user.name}, {user.email},
// {user.provider}, {app.name} and {role.name}.
type HeaderTemplate struct {
	Name  string // canonical header name
	parts []templatePart
}

type templatePart struct {
	literal string
	ref     string // "" for a literal, else e.g. "lookup.tenant" or "user.name"
}

// templateRefs are the placeholders other than lookup.NAME.
var templateRefs = map[string]bool{"user.name": true, "user.email": true, "user.provider": true, "app.name": true, "role.name": true}

// ParseHeaderTemplate parses a header value template. Braces are only for
// placeholders; a literal brace cannot be written.
func ParseHeaderTemplate(name, value string) (HeaderTemplate, error) {
	t := HeaderTemplate{Name: name}
	rest := value
	for rest != "" {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			t.parts = append(t.parts, templatePart{literal: rest})
			break
		}
		if rest[i] == '}' {
			return HeaderTemplate{}, errors.New(`"}" without "{"`)
		}
		if i > 0 {
			t.parts = append(t.parts, templatePart{literal: rest[:i]})
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return HeaderTemplate{}, errors.New(`"{" without "}"`)
		}
		ref := rest[i+1 : i+j]
		if !templateRefs[ref] {
			lk, ok := strings.CutPrefix(ref, "lookup.")
			if !ok || lk == "" || strings.ContainsAny(lk, ".{ ") {
				return HeaderTemplate{}, fmt.Errorf("unknown placeholder {%s}; use {lookup.NAME}, {user.name}, {user.email}, {user.provider}, {app.name} or {role.name}", ref)
			}
		}
		t.parts = append(t.parts, templatePart{ref: ref})
		rest = rest[i+j+1:]
	}
	return t, nil
}

// Lookups returns the lookup names the template reads.
func (t HeaderTemplate) Lookups() []string {
	var out []string
	for _, p := range t.parts {
		if name, ok := strings.CutPrefix(p.ref, "lookup."); ok {
			out = append(out, name)
		}
	}
	return out
}

// Render fills in the placeholders with resolve. It reports false when a
// placeholder has no value (the caller refuses the request: an upstream
// scoped by a header must never get the request without it) or when the
// result is not a valid header value (control characters).
func (t HeaderTemplate) Render(resolve func(ref string) (string, bool)) (string, bool) {
	if len(t.parts) == 1 && t.parts[0].ref == "" {
		return t.parts[0].literal, true
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.ref == "" {
			b.WriteString(p.literal)
			continue
		}
		v, ok := resolve(p.ref)
		if !ok {
			return "", false
		}
		b.WriteString(v)
	}
	s := b.String()
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return "", false
		}
	}
	return s, true
}
