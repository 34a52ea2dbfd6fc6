package policy

import "strings"

// Route is the result of routing a canonical path.
type Route struct {
	Upstream *Upstream
	// Rest is the part of the canonical path after the upstream prefix: ""
	// or starting with "/". It is what grants match and what is appended to
	// the upstream URL's path.
	Rest string
	// Segments are the decoded segments of Rest.
	Segments []string
}

// Route finds the upstream with the longest prefix that matches p segment by
// segment ("/hr" matches "/hr" and "/hr/x", never "/hrx"). Matching is
// case-sensitive. ok is false when no prefix matches.
func (s *Snapshot) Route(p Path) (r Route, ok bool) {
	cand := p.Escaped
	if len(cand) > 1 && cand[len(cand)-1] == '/' {
		cand = cand[:len(cand)-1]
	}
	for {
		if u, hit := s.byPrefix[cand]; hit {
			return s.route(u, p), true
		}
		i := strings.LastIndexByte(cand, '/')
		if i <= 0 {
			break
		}
		cand = cand[:i]
	}
	if u, hit := s.byPrefix["/"]; hit {
		return s.route(u, p), true
	}
	return Route{}, false
}

func (s *Snapshot) route(u *Upstream, p Path) Route {
	if u.prefix == "/" {
		return Route{Upstream: u, Rest: p.Escaped, Segments: p.Segments}
	}
	return Route{Upstream: u, Rest: p.Escaped[len(u.prefix):], Segments: p.Segments[u.nsegs:]}
}
