package policy

import (
	"errors"
	"fmt"
	"strings"
)

// MaxGlobDoubleStars bounds the "**" segments in one pattern. Matching cost
// grows with the path depth to the power of this number; with MaxPathSegments
// it keeps a decision in the microseconds whatever path a client sends.
const MaxGlobDoubleStars = 2

// Glob is a compiled path pattern of a grant. Segments are literal, "*" (any
// one segment) or "**" (any number of segments, including none). Literal
// segments are compared with the decoded request segments, exactly and
// case-sensitively. A trailing slash is not significant (see Path).
type Glob struct {
	raw  string
	segs []string // literal (decoded), "*" or "**"
}

// ParseGlob compiles a grant path pattern such as "/employees/*/salary" or
// "/reports/**". It refuses patterns that could never match a canonical path
// (dot segments, "//", forbidden characters) and partial wildcards such as
// "/emp*", so an operator is never surprised by a pattern that silently
// matches nothing.
func ParseGlob(s string) (Glob, error) {
	if s == "" || s[0] != '/' {
		return Glob{}, errors.New(`must start with "/"`)
	}
	if s == "/" {
		return Glob{raw: s}, nil
	}
	if strings.HasSuffix(s, "/") {
		return Glob{}, errors.New(`must not end with "/" (a trailing slash is not significant; use "/x" for both "/x" and "/x/")`)
	}
	g := Glob{raw: s}
	dstars := 0
	for seg := range strings.SplitSeq(s[1:], "/") {
		switch {
		case seg == "**":
			if len(g.segs) > 0 && g.segs[len(g.segs)-1] == "**" {
				return Glob{}, errors.New(`"**/**" is redundant; use one "**"`)
			}
			if dstars++; dstars > MaxGlobDoubleStars {
				return Glob{}, fmt.Errorf(`at most %d "**" segments are allowed in one pattern`, MaxGlobDoubleStars)
			}
			g.segs = append(g.segs, seg)
		case seg == "*":
			g.segs = append(g.segs, seg)
		case strings.Contains(seg, "*"):
			return Glob{}, fmt.Errorf("wildcard %q must be a whole segment (\"*\" or \"**\")", seg)
		case seg == "":
			return Glob{}, errors.New(`contains an empty segment ("//")`)
		default:
			p, err := ParsePath("/" + seg)
			if err != nil {
				return Glob{}, fmt.Errorf("segment %q: %w", seg, err)
			}
			g.segs = append(g.segs, p.Segments[0])
		}
	}
	return g, nil
}

// String returns the pattern as written.
func (g Glob) String() string { return g.raw }

// Match reports whether the decoded segments match the pattern. It is meant
// for tests and tools; Decide uses the role's compiled index instead.
func (g Glob) Match(segs []string) bool { return matchSegs(g.segs, segs) }

func matchSegs(pat, segs []string) bool {
	for len(pat) > 0 {
		switch pat[0] {
		case "**":
			for k := 0; k <= len(segs); k++ {
				if matchSegs(pat[1:], segs[k:]) {
					return true
				}
			}
			return false
		case "*":
			if len(segs) == 0 {
				return false
			}
		default:
			if len(segs) == 0 || segs[0] != pat[0] {
				return false
			}
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(segs) == 0
}
