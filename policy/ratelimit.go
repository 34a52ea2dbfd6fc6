package policy

import (
	"fmt"
	"strconv"
	"time"
)

// RateLimitSpec is one rate_limit block: Requests per Period, of which up
// to Burst may come at once (GCRA: one request comes back every
// Period/Requests, and at most Burst are held).
type RateLimitSpec struct {
	Requests int
	Period   time.Duration // a whole number of seconds, at least one
	Burst    int
	Origin   string
}

// Kinds of rate limit, the place its block sits in; each is also the
// policy's name in the RateLimit-Policy and RateLimit response headers.
const (
	RateLimitGrant = "grant"
	RateLimitUser  = "user"
	RateLimitRole  = "role"
	RateLimitApp   = "app"
)

// RateLimit is a compiled rate_limit block. Its ID names its budgets
// apart from every other limit's: the proxy keys a budget by the limit's
// ID, the app and the caller.
type RateLimit struct {
	kind     string
	id       string
	requests int
	period   time.Duration
	burst    int
	every    time.Duration
	policy   string
	origin   string
}

// newRateLimit compiles spec for the block of kind named name.
func newRateLimit(kind, name string, spec *RateLimitSpec) (*RateLimit, error) {
	if spec == nil {
		return nil, nil
	}
	if spec.Requests < 1 || spec.Burst < 1 || spec.Period < time.Second || spec.Period%time.Second != 0 {
		return nil, fmt.Errorf("%s %q: rate_limit needs requests >= 1, burst >= 1 and a period of whole seconds", kind, name)
	}
	every := spec.Period / time.Duration(spec.Requests)
	if every <= 0 {
		every = 1
	}
	return &RateLimit{
		kind: kind, id: kind + ":" + name, requests: spec.Requests, period: spec.Period, burst: spec.Burst,
		every: every, origin: spec.Origin,
		policy: strconv.Quote(kind) + ";q=" + strconv.Itoa(spec.Requests) + ";w=" + strconv.FormatInt(int64(spec.Period/time.Second), 10),
	}, nil
}

// Kind is where the block sits: RateLimitGrant, RateLimitUser,
// RateLimitRole or RateLimitApp.
func (l *RateLimit) Kind() string { return l.kind }

// ID names the limit's budgets: its kind and block ("app:shop",
// "grant:clerk:2" for a role's third grant).
func (l *RateLimit) ID() string { return l.id }

// Requests and Period are the configured rate.
func (l *RateLimit) Requests() int { return l.requests }

// Period is the configured period.
func (l *RateLimit) Period() time.Duration { return l.period }

// Burst is how many requests may come at once.
func (l *RateLimit) Burst() int { return l.burst }

// Every is the interval at which one request comes back (Period/Requests).
func (l *RateLimit) Every() time.Duration { return l.every }

// Policy is the limit's item of the RateLimit-Policy header
// (draft-ietf-httpapi-ratelimit-headers-09): `"app";q=100;w=60`.
func (l *RateLimit) Policy() string { return l.policy }

// Origin is where the block was declared.
func (l *RateLimit) Origin() string { return l.origin }

// RateLimits appends to dst the rate limits that apply to a request of id
// that d decided, most specific first: the deciding grant's, the user's
// (local users only; an admin session is not a user's), the role's, the
// app's. Every one applies: a request
// must have a unit left in each. It does not allocate when dst has room
// for four, and returns dst at once when the configuration has no
// rate_limit block.
func (s *Snapshot) RateLimits(dst []*RateLimit, id Identity, d Decision) []*RateLimit {
	if !s.rateLimits {
		return dst
	}
	if d.Grant != nil && d.Grant.rateLimit != nil {
		dst = append(dst, d.Grant.rateLimit)
	}
	if id.User != "" && !id.Admin && s.userRateLimits {
		if u, ok := s.users[id.User]; ok && u.rateLimit != nil {
			dst = append(dst, u.rateLimit)
		}
	}
	if id.Role != nil && id.Role.rateLimit != nil {
		dst = append(dst, id.Role.rateLimit)
	}
	if id.App != nil && id.App.rateLimit != nil {
		dst = append(dst, id.App.rateLimit)
	}
	return dst
}

// HasRateLimits reports whether any block of the configuration has a
// rate_limit.
func (s *Snapshot) HasRateLimits() bool { return s.rateLimits }
