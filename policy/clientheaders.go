package policy

import (
	"errors"
	"fmt"
	"strings"
)

// A client header rule names request headers that upstream frameworks
// believe because auth proxies and load balancers set them: who the user
// is (Remote-User, X-Forwarded-Email), which URL was "really" asked for
// (X-Original-URL, X-Rewrite-URL: the IIS/Symfony path override that routes
// a request authorized for /public to /admin), which host, port or client
// address it came from, and which method it "really" is. Client copies of
// them never reach an upstream.
type clientHeaderRule struct {
	name   string // lower case with "-" (HeaderFold form); a prefix when prefix
	prefix bool
	// keep: keep_headers may name it (or, for a prefix, a name it covers).
	keep bool
	// trusted: a copy from a trusted_proxies peer passes.
	trusted bool
	// word and mask pre-filter names (see nameWord): a name can match
	// only if nameWord(k)&mask == word.
	word, mask uint64
}

// withWord returns r with its pre-filter set: the first eight bytes of its
// name with bit 0x20 set (ASCII letters in lower case), and a mask that
// ignores bytes past the name and its "-" (a "_" in a client's name).
func (r clientHeaderRule) withWord() clientHeaderRule {
	r.word, r.mask = 0, 0
	for i := 0; i < len(r.name) && i < 8; i++ {
		if r.name[i] == '-' {
			continue
		}
		r.word |= uint64(r.name[i]|0x20) << (8 * i)
		r.mask |= 0xff << (8 * i)
	}
	return r
}

// nameWord returns the first eight bytes of k (zeros past its end), each
// with bit 0x20 set: a rule's word and mask then compare eight bytes of
// the name in a few instructions, ignoring ASCII case.
func nameWord(k string) uint64 {
	if len(k) >= 8 {
		return (uint64(k[0]) | uint64(k[1])<<8 | uint64(k[2])<<16 | uint64(k[3])<<24 |
			uint64(k[4])<<32 | uint64(k[5])<<40 | uint64(k[6])<<48 | uint64(k[7])<<56) | 0x2020202020202020
	}
	var w uint64
	for i := 0; i < len(k); i++ {
		w |= uint64(k[i]|0x20) << (8 * i)
	}
	return w
}

// defaultClientHeaderRules is the documented default list (docs/security.md,
// "What the upstream sees"). A name ending in "-" is a prefix.
func defaultClientHeaderRules() []clientHeaderRule {
	const (
		keep    = 1 << iota // keep_headers may keep it
		trusted             // a trusted proxy's copy passes
	)
	list := []struct {
		name  string
		flags int
	}{
		// gatehouse's own identity headers and the API key (never kept).
		{"x-gatehouse-", 0},
		{"x-api-key", 0},
		// Method overrides (the methodOverride stage refuses a request
		// that names another method; an equal one is removed here).
		{"x-http-method-override", 0},
		{"x-http-method", 0},
		{"x-method-override", 0},
		// httputil.ReverseProxy removes Forwarded too (canonical spelling).
		{"forwarded", 0},
		// Identity set by auth proxies (oauth2-proxy, Authelia, Apache,
		// nginx auth_request, Traefik forward auth).
		{"remote-", keep},
		{"x-remote-", keep},
		{"x-user", keep},
		{"x-user-", keep},
		{"x-forwarded-user", keep},
		{"x-forwarded-email", keep},
		{"x-forwarded-groups", keep},
		{"x-forwarded-preferred-username", keep},
		{"x-forwarded-access-token", keep},
		{"x-auth-request-", keep},
		// URL, host and scheme overrides.
		{"x-original-url", keep},
		{"x-original-uri", keep},
		{"x-rewrite-url", keep},
		{"x-forwarded-uri", keep},
		{"x-forwarded-prefix", keep | trusted},
		{"x-forwarded-port", keep | trusted},
		{"x-forwarded-server", keep},
		{"x-forwarded-scheme", keep},
		{"x-forwarded-ssl", keep},
		{"x-original-host", keep},
		{"x-host", keep},
		{"x-http-host-override", keep},
		// Client addresses (gatehouse sets X-Real-IP itself).
		{"x-client-ip", keep},
		{"x-cluster-client-ip", keep},
		{"true-client-ip", keep},
		{"cf-connecting-ip", keep},
		{"fastly-client-ip", keep},
	}
	out := make([]clientHeaderRule, len(list))
	for i, e := range list {
		out[i] = clientHeaderRule{
			name:    e.name,
			prefix:  strings.HasSuffix(e.name, "-"),
			keep:    e.flags&keep != 0,
			trusted: e.flags&trusted != 0,
		}
	}
	return out
}

// DefaultClientHeaders returns the default list of client header names that
// never reach an upstream, in the documented spelling; a name ending in "*"
// covers every name that begins with what precedes it.
func DefaultClientHeaders() []string {
	rules := defaultClientHeaderRules()
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.String()
	}
	return out
}

func (r clientHeaderRule) String() string {
	if r.prefix {
		return r.name + "*"
	}
	return r.name
}

func (r clientHeaderRule) matches(k string) bool {
	if r.prefix {
		return len(k) >= len(r.name) && HeaderFold(k[:len(r.name)], r.name)
	}
	return HeaderFold(k, r.name)
}

// ClientHeaders decides which client request headers are removed before
// forwarding: the default list, plus the server block's strip_headers,
// minus its keep_headers. Immutable; safe for concurrent use.
type ClientHeaders struct {
	// group[i-1] holds the rules whose folded first byte b has
	// first[b] == i (0: no rule starts with b): most client headers
	// (Accept, User-Agent, Content-Type) are decided by one array read.
	first [256]uint8
	group []ruleGroup
	keep  []string // keep_headers, folded
}

// ruleGroup holds the rules of one first byte, by their third byte (most
// start with "x-"), so that X-Requested-With or X-Bench-Padding meet a
// handful of rules or none. Within a list, rules that always strip come
// first. A name is compared with a rule's word first (nameWord), and in
// full (HeaderFold) only when its length and first eight bytes fit.
type ruleGroup struct {
	short []clientHeaderRule     // names of one or two bytes
	third [32][]clientHeaderRule // by thirdKey of the name
}

// thirdKey buckets a name by its third byte, folded (HeaderFold).
func thirdKey(k string) byte { return foldHeaderByte(k[2]) & 31 }

// ErrInvalidHeaderPattern is returned for a strip_headers entry that is
// not a header name, or a name followed by one "*".
var ErrInvalidHeaderPattern = errors.New("not a header name (letters, digits and !#$%&'+-.^_`|~), optionally ending in \"*\"")

// ParseClientHeaderPattern checks one strip_headers entry: a header name,
// or a name followed by "*" meaning every name that begins with it. It
// returns the folded rule text.
func ParseClientHeaderPattern(s string) (string, error) {
	name, prefix := strings.CutSuffix(s, "*")
	if name == "" || !ValidHeaderName(name) || strings.IndexByte(name, '*') >= 0 {
		return "", ErrInvalidHeaderPattern
	}
	folded := foldName(name)
	if prefix {
		return folded + "*", nil
	}
	return folded, nil
}

// KeepableClientHeader reports whether keep_headers may name k: a header
// name covered by a default rule that may be kept. A name covered by a rule
// that can never be kept (X-Gatehouse-*, X-API-Key, the method-override
// headers, Forwarded) or by none returns an error saying which.
func KeepableClientHeader(k string) error {
	if !ValidHeaderName(k) {
		return ErrInvalidHeaderPattern
	}
	for _, r := range defaultClientHeaderRules() {
		if r.matches(k) {
			if !r.keep {
				return fmt.Errorf("%s is never forwarded from clients", r)
			}
			return nil
		}
	}
	if HeaderFold(k, "x-real-ip") {
		return errors.New("X-Real-IP is set by gatehouse from the client address")
	}
	return errors.New("it is not in the default list, so it is forwarded already")
}

// NewClientHeaders compiles the default rules with strip (extra names or
// "Name*" prefixes) and keep (exact names the defaults cover). It returns an
// error for an entry ParseClientHeaderPattern or KeepableClientHeader
// refuses.
func NewClientHeaders(strip, keep []string) (*ClientHeaders, error) {
	rules := defaultClientHeaderRules()
	for _, s := range strip {
		p, err := ParseClientHeaderPattern(s)
		if err != nil {
			return nil, fmt.Errorf("strip_headers %q: %w", s, err)
		}
		name, prefix := strings.CutSuffix(p, "*")
		rules = append(rules, clientHeaderRule{name: name, prefix: prefix})
	}
	c := &ClientHeaders{}
	for _, k := range keep {
		if err := KeepableClientHeader(k); err != nil {
			return nil, fmt.Errorf("keep_headers %q: %w", k, err)
		}
		c.keep = append(c.keep, foldName(k))
	}
	// Rules that always strip first, so that a kept or trusted match
	// decides only when no such rule matches.
	for pass := range 2 {
		for _, r := range rules {
			if (r.keep || r.trusted) != (pass == 1) {
				continue
			}
			b := r.name[0]
			if c.first[b] == 0 {
				c.group = append(c.group, ruleGroup{})
				c.first[b] = uint8(len(c.group))
				switch {
				case b >= 'a' && b <= 'z':
					c.first[b-'a'+'A'] = c.first[b]
				case b == '-':
					c.first['_'] = c.first[b]
				}
			}
			g := &c.group[c.first[b]-1]
			if len(r.name) < 3 {
				g.short = append(g.short, r.withWord())
				continue
			}
			i := thirdKey(r.name)
			g.third[i] = append(g.third[i], r.withWord())
		}
	}
	return c, nil
}

// Strip reports whether a client's request header named k must be removed
// before forwarding, in any spelling an upstream framework folds together
// (HeaderFold). trusted says the peer is in trusted_proxies: its
// X-Forwarded-Prefix and X-Forwarded-Port pass. A nil ClientHeaders uses
// no rules but gatehouse's own (X-Gatehouse-*, X-API-Key).
func (c *ClientHeaders) Strip(k string, trusted bool) bool {
	if c == nil {
		return IsIdentityOrCredentialHeader(k)
	}
	if k == "" {
		return false
	}
	g := c.first[k[0]]
	if g == 0 {
		return false
	}
	grp := &c.group[g-1]
	w := nameWord(k)
	// A short rule is an operator's (strip_headers) and always strips.
	for _, r := range grp.short {
		if w&r.mask == r.word && len(k) >= len(r.name) && (r.prefix || len(k) == len(r.name)) &&
			HeaderFold(k[:len(r.name)], r.name) {
			return true
		}
	}
	if len(k) < 3 {
		return false
	}
	for _, r := range grp.third[thirdKey(k)] {
		if w&r.mask != r.word || len(k) < len(r.name) || !r.prefix && len(k) != len(r.name) ||
			!HeaderFold(k[:len(r.name)], r.name) {
			continue
		}
		if r.trusted && trusted {
			return false
		}
		if r.keep {
			for _, kk := range c.keep {
				if HeaderFold(k, kk) {
					return false
				}
			}
		}
		return true
	}
	return false
}

// foldName returns k in HeaderFold form: lower case, "-" for "_".
func foldName(k string) string {
	b := []byte(k)
	for i, c := range b {
		b[i] = foldHeaderByte(c)
	}
	return string(b)
}
