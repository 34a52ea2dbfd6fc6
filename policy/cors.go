package policy

import (
	"errors"
	"fmt"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
)

// MaxCORSMaxAge is the largest max_age a cors block may set, in seconds
// (one day; browsers cap lower: Chromium at 2 hours, Firefox at 24 hours).
const MaxCORSMaxAge = 86400

// CORSSpec declares one cors block: the CORS answer for the public request
// paths its glob matches.
type CORSSpec struct {
	// Path is matched against the whole public request path (before the
	// upstream prefix is stripped).
	Path Glob
	// AllowOrigins are the origins that may read responses; "*" must be
	// the only entry and excludes Credentials. Never empty.
	AllowOrigins []OriginPattern
	// Methods cross-origin pages may use; never empty.
	Methods Verb
	// Headers are the request headers a preflight allows, ExposedHeaders
	// the response headers pages may read (beyond the CORS-safelisted
	// ones). Valid header names, without "*".
	Headers        []string
	ExposedHeaders []string
	// MaxAge is how long browsers may cache a preflight answer, in
	// seconds (0..MaxCORSMaxAge); -1 sends no Access-Control-Max-Age.
	MaxAge      int
	Credentials bool
	// Enabled false makes the matched paths not CORS paths, even where a
	// less specific rule would apply.
	Enabled bool
	Origin  string // where the block was declared ("api.hcl:12,1")
}

// CORSRule is one compiled cors block. Header values are built once.
type CORSRule struct {
	path        Glob
	origins     []OriginPattern
	exact       map[string]struct{} // exact origins, for one lookup
	any         bool                // origins = ["*"]
	methods     Verb
	credentials bool
	enabled     bool
	rank        int // 0 = most specific; see CompareGlobSpecificity

	allowMethods, allowHeaders, exposeHeaders, maxAge string
	origin                                            string
}

// Path returns the rule's path glob.
func (r *CORSRule) Path() Glob { return r.path }

// Enabled reports whether matched paths are CORS paths.
func (r *CORSRule) Enabled() bool { return r.enabled }

// Credentials reports whether responses carry
// Access-Control-Allow-Credentials: true.
func (r *CORSRule) Credentials() bool { return r.credentials }

// AllowsMethod reports whether method is one of the rule's methods. Names
// are exact and upper case, as for grants.
func (r *CORSRule) AllowsMethod(method string) bool {
	v, ok := ParseVerb(method)
	return ok && r.methods&v != 0
}

// AllowOrigin returns the Access-Control-Allow-Origin value for a request
// whose Origin header is origin: "*" for a rule that allows any origin,
// origin itself when a pattern matches it, and ok false otherwise (also
// for an empty origin).
func (r *CORSRule) AllowOrigin(origin string) (value string, ok bool) {
	if r.any {
		return "*", true
	}
	if origin == "" {
		return "", false
	}
	if _, hit := r.exact[origin]; hit {
		return origin, true
	}
	for _, o := range r.origins {
		if o.kind == originWildcard && o.Match(origin) {
			return origin, true
		}
	}
	return "", false
}

// AllowMethodsHeader is the Access-Control-Allow-Methods value ("GET, PUT").
func (r *CORSRule) AllowMethodsHeader() string { return r.allowMethods }

// AllowHeadersHeader is the Access-Control-Allow-Headers value, "" for none.
func (r *CORSRule) AllowHeadersHeader() string { return r.allowHeaders }

// ExposeHeadersHeader is the Access-Control-Expose-Headers value, "" for none.
func (r *CORSRule) ExposeHeadersHeader() string { return r.exposeHeaders }

// MaxAgeHeader is the Access-Control-Max-Age value, "" when not configured.
func (r *CORSRule) MaxAgeHeader() string { return r.maxAge }

// Origin returns where the rule was declared.
func (r *CORSRule) Origin() string { return r.origin }

// String describes the rule for logs: `cors "/hr/**" (cors.hcl:3,1)`.
func (r *CORSRule) String() string {
	s := "cors " + strconv.Quote(r.path.raw)
	if r.origin != "" {
		s += " (" + r.origin + ")"
	}
	return s
}

// CORS returns the most specific cors rule whose glob matches the public
// request path p, or nil when none does or the most specific one is
// disabled. Without cors blocks it costs one nil check.
func (s *Snapshot) CORS(p Path) *CORSRule {
	if s.cors == nil {
		return nil
	}
	r := s.cors.match(p.Segments)
	if r == nil || !r.enabled {
		return nil
	}
	return r
}

// CORSRules returns the rules from most to least specific.
func (s *Snapshot) CORSRules() []*CORSRule {
	if s.cors == nil {
		return nil
	}
	return append([]*CORSRule(nil), s.cors.rules...)
}

// corsIndex finds the most specific rule for a path: a segment trie like
// the grant index, whose matching leaves keep the rule with the lowest
// rank.
type corsIndex struct {
	root  corsNode
	rules []*CORSRule // by rank
}

type corsNode struct {
	lit   map[string]*corsNode
	star  *corsNode
	dstar *corsNode
	rule  *CORSRule // a rule whose glob ends here
}

func (n *corsNode) insert(segs []string, r *CORSRule) {
	for _, s := range segs {
		n = child(&n.lit, &n.star, &n.dstar, s)
	}
	n.rule = r
}

// match returns the lowest-ranked rule among those whose glob matches segs.
func (ix *corsIndex) match(segs []string) *CORSRule {
	var best *CORSRule
	ix.root.match(segs, &best)
	return best
}

func (n *corsNode) match(segs []string, best **CORSRule) {
	if len(segs) == 0 {
		if n.rule != nil && (*best == nil || n.rule.rank < (*best).rank) {
			*best = n.rule
		}
	} else {
		if c := n.lit[segs[0]]; c != nil {
			c.match(segs[1:], best)
		}
		if n.star != nil {
			n.star.match(segs[1:], best)
		}
	}
	if n.dstar != nil {
		for k := 0; k <= len(segs); k++ {
			n.dstar.match(segs[k:], best)
		}
	}
}

// newCORSIndex compiles the rules. It re-checks what config reports with
// positions: valid globs, unique paths, no two equally specific globs that
// overlap, non-empty origins and methods, "*" alone and without
// credentials, max_age in range and valid header names.
func newCORSIndex(specs []CORSSpec) (*corsIndex, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	ix := &corsIndex{}
	for i := range specs {
		cs := &specs[i]
		r, err := newCORSRule(cs)
		if err != nil {
			return nil, fmt.Errorf("cors %q: %w", cs.Path.raw, err)
		}
		for _, other := range ix.rules {
			if other.path.raw == r.path.raw {
				return nil, fmt.Errorf("duplicate cors path %q", r.path.raw)
			}
			if CompareGlobSpecificity(other.path, r.path) == 0 && GlobsOverlap(other.path, r.path) {
				return nil, fmt.Errorf("cors paths %q and %q are equally specific and overlap", other.path.raw, r.path.raw)
			}
		}
		ix.rules = append(ix.rules, r)
	}
	// Most specific first; equally specific rules never overlap, so their
	// order only has to be deterministic.
	slices.SortStableFunc(ix.rules, func(a, b *CORSRule) int { return CompareGlobSpecificity(a.path, b.path) })
	for i, r := range ix.rules {
		r.rank = i
		ix.root.insert(r.path.segs, r)
	}
	return ix, nil
}

func newCORSRule(cs *CORSSpec) (*CORSRule, error) {
	if cs.Path.raw == "" {
		return nil, errors.New("empty path glob")
	}
	if len(cs.AllowOrigins) == 0 {
		return nil, errors.New("no origins")
	}
	if cs.Methods == 0 {
		return nil, errors.New("no methods")
	}
	if cs.MaxAge < -1 || cs.MaxAge > MaxCORSMaxAge {
		return nil, fmt.Errorf("max_age %d out of range", cs.MaxAge)
	}
	r := &CORSRule{
		path: cs.Path, methods: cs.Methods, credentials: cs.Credentials, enabled: cs.Enabled,
		origin: cs.Origin, exact: map[string]struct{}{},
	}
	for _, o := range cs.AllowOrigins {
		switch o.kind {
		case originAny:
			if len(cs.AllowOrigins) != 1 {
				return nil, errors.New(`"*" must be the only origin`)
			}
			if cs.Credentials {
				return nil, errors.New(`origin "*" with credentials`)
			}
			r.any = true
		case originExact:
			r.exact[o.canon] = struct{}{}
		case originWildcard:
		default:
			return nil, errors.New("an origin pattern is not compiled")
		}
		r.origins = append(r.origins, o)
	}
	r.allowMethods = strings.ReplaceAll(cs.Methods.String(), ",", ", ")
	var err error
	if r.allowHeaders, err = headerList(cs.Headers); err != nil {
		return nil, err
	}
	if r.exposeHeaders, err = headerList(cs.ExposedHeaders); err != nil {
		return nil, err
	}
	if cs.MaxAge >= 0 {
		r.maxAge = strconv.Itoa(cs.MaxAge)
	}
	return r, nil
}

// headerList joins canonical header names with ", ".
func headerList(names []string) (string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if !ValidHeaderName(n) || n == "*" {
			return "", fmt.Errorf("invalid header name %q", n)
		}
		out = append(out, textproto.CanonicalMIMEHeaderKey(n))
	}
	return strings.Join(out, ", "), nil
}

// ValidHeaderName reports whether s is an RFC 9110 token, the syntax of a
// header field name.
func ValidHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// CompareGlobSpecificity orders globs from most to least specific. It
// returns a negative number when a is more specific than b, a positive one
// when b is, and 0 when they are equally specific. A glob is more specific
// when it has
//
//  1. more literal segments, or else
//  2. fewer "**" segments, or else
//  3. fewer "*" segments.
//
// Equally specific globs have the same number of segments of each kind. The
// root glob "/" has no segments: it is the least specific literal glob, yet
// more specific than "/**" and "/*".
func CompareGlobSpecificity(a, b Glob) int {
	al, as, ad := a.counts()
	bl, bs, bd := b.counts()
	switch {
	case al != bl:
		return bl - al
	case ad != bd:
		return ad - bd
	default:
		return as - bs
	}
}

// counts returns the numbers of literal, "*" and "**" segments.
func (g Glob) counts() (lit, star, dstar int) {
	for _, s := range g.segs {
		switch s {
		case "*":
			star++
		case "**":
			dstar++
		default:
			lit++
		}
	}
	return lit, star, dstar
}

// GlobsOverlap reports whether some canonical path matches both a and b.
func GlobsOverlap(a, b Glob) bool {
	_, ok := OverlapExample(a, b)
	return ok
}

// OverlapExample returns a path that both a and b match, and whether there
// is one. The example uses the globs' literals, and "x" where both sides
// are wildcards.
func OverlapExample(a, b Glob) (string, bool) {
	o := overlap{a: a.segs, b: b.segs, memo: map[[2]int]bool{}}
	if !o.can(0, 0) {
		return "", false
	}
	var segs []string
	i, j := 0, 0
	for i < len(o.a) || j < len(o.b) {
		var seg string
		var step bool
		i, j, seg, step = o.next(i, j)
		if step {
			segs = append(segs, seg)
		}
	}
	var sb strings.Builder
	for _, s := range segs {
		sb.WriteByte('/')
		escapeSegment(&sb, s)
	}
	if sb.Len() == 0 {
		return "/", true
	}
	return sb.String(), true
}

// overlap decides whether two segment patterns share a match, by dynamic
// programming over (position in a, position in b).
type overlap struct {
	a, b []string
	memo map[[2]int]bool
}

func (o *overlap) can(i, j int) bool {
	if i == len(o.a) && j == len(o.b) {
		return true
	}
	k := [2]int{i, j}
	if v, ok := o.memo[k]; ok {
		return v
	}
	o.memo[k] = false // cycles cannot occur, but be safe
	_, _, _, ok := o.try(i, j)
	o.memo[k] = ok
	return ok
}

// try finds a move from (i, j) that leads to a common match: it returns the
// next state, the segment the move consumes (if any) and whether one exists.
func (o *overlap) try(i, j int) (ni, nj int, seg string, ok bool) {
	ai, bj := i < len(o.a), j < len(o.b)
	if ai && o.a[i] == "**" {
		if o.can(i+1, j) { // "**" matches nothing more
			return i + 1, j, "", true
		}
		if bj && o.b[j] != "**" && o.can(i, j+1) { // "**" eats b's next segment
			return i, j + 1, segOf(o.b[j]), true
		}
	}
	if bj && o.b[j] == "**" {
		if o.can(i, j+1) {
			return i, j + 1, "", true
		}
		if ai && o.a[i] != "**" && o.can(i+1, j) {
			return i + 1, j, segOf(o.a[i]), true
		}
	}
	if ai && bj && o.a[i] != "**" && o.b[j] != "**" {
		x, y := o.a[i], o.b[j]
		switch {
		case x == "*" && y == "*":
			seg = "x"
		case x == "*":
			seg = y
		case y == "*" || x == y:
			seg = x
		default:
			return 0, 0, "", false
		}
		if o.can(i+1, j+1) {
			return i + 1, j + 1, seg, true
		}
	}
	return 0, 0, "", false
}

// next replays the successful move from (i, j) for OverlapExample.
func (o *overlap) next(i, j int) (ni, nj int, seg string, step bool) {
	ni, nj, seg, _ = o.try(i, j)
	return ni, nj, seg, seg != ""
}

// segOf is the example segment for a pattern segment that "**" consumes.
func segOf(p string) string {
	if p == "*" {
		return "x"
	}
	return p
}
