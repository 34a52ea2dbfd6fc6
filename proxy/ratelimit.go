package proxy

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/logevery"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy/authn"
	"github.com/gatehouse-dev/gatehouse/settings"
	"github.com/gatehouse-dev/gatehouse/store"
	"github.com/gatehouse-dev/gatehouse/store/memstore"
)

// reasonRateLimited is the 429 of a request over one of its rate limits.
const reasonRateLimited = "rate_limited"

// maxRateBudgets bounds each in-memory table of rate budgets (one table
// per rate; least recently used keys are forgotten first).
const maxRateBudgets = 100_000

// rateLimitsWarnEvery bounds the warnings of rate limits failing open.
const rateLimitsWarnEvery = time.Minute

// RateLimitHooks let another part of gatehouse (metrics) count what the
// rateLimit stage does. A nil func is not called. They run on the request
// path: they must be quick and must not block.
type RateLimitHooks struct {
	// Refused is called once per request refused with 429; kind is the
	// refusing limit's (policy.RateLimitApp, …Role, …User, …Grant).
	Refused func(kind string)
	// StoreError is called once per request whose rate limits the store
	// could not answer; open reports whether the request went on
	// (rate_limits_on_error = "open") or was refused with 503.
	StoreError func(open bool)
}

// rateLimiter is the Server's side of the rateLimit stage: the store of
// the budgets, what a store error does, and the rate-limited warning of
// failing open. It is safe for concurrent use.
type rateLimiter struct {
	store store.RateLimits
	open  bool // rate_limits_on_error = "open"
	log   *slog.Logger
	hooks RateLimitHooks
	warns logevery.Every // the warnings of failing open, one per rateLimitsWarnEvery
}

// newRateLimiter returns the limiter over rl (nil: in memory). onError is
// settings.LimitsOpen ("" too) or settings.LimitsClosed; anything else
// panics (config only produces those).
func newRateLimiter(rl store.RateLimits, onError string, hooks RateLimitHooks, log *slog.Logger) *rateLimiter {
	if rl == nil {
		rl = memstore.NewBudgets(maxRateBudgets, nil)
	}
	switch onError {
	case "", settings.LimitsOpen, settings.LimitsClosed:
	default:
		panic("proxy: RateLimitsOnError " + strconv.Quote(onError) + " is neither \"open\" nor \"closed\"")
	}
	return &rateLimiter{store: rl, open: onError != settings.LimitsClosed, log: log, hooks: hooks,
		warns: logevery.Every{Period: rateLimitsWarnEvery}}
}

// rateState is the rateLimit stage's scratch space: the limits that apply,
// without allocating for up to four (one of each kind). It is kept small:
// every transaction carries it, limited or not.
type rateState struct {
	limits [4]*policy.RateLimit
}

// rateLimit takes one unit from every rate limit that applies to the
// request (policy.Snapshot.RateLimits: the deciding grant's, the user's,
// the role's and the app's), all or none, in one store call: with a
// cluster block one Lua script on Redis, else memory. A limit with no unit
// left refuses with 429 rate_limited, Retry-After and the RateLimit and
// RateLimit-Policy fields; an allowed request carries the same two fields
// to the client. A configuration without rate_limit blocks costs one
// boolean test; a request none applies to makes no store call.
type rateLimit struct{}

func (rateLimit) serve(x *transaction) error {
	snap := x.snap()
	if !snap.HasRateLimits() {
		return nil
	}
	ls := snap.RateLimits(x.rate.limits[:0], x.who.ident, x.decision)
	if len(ls) == 0 {
		return nil
	}
	return x.srv.rates.take(x, ls)
}

// take asks the store for the budgets of ls and answers for the stage.
func (rl *rateLimiter) take(x *transaction, ls []*policy.RateLimit) error {
	caller := rateCaller(x)
	budgets := make([]store.Limit, len(ls))
	for i, l := range ls {
		budgets[i] = store.Limit{Key: "rl:" + l.ID() + "|" + caller, Every: l.Every(), Burst: l.Burst()}
	}
	t, err := rl.store.Take(x.r.Context(), budgets)
	if err != nil {
		if rl.hooks.StoreError != nil {
			rl.hooks.StoreError(rl.open)
		}
		if rl.open {
			rl.warn(err)
			return nil
		}
		return refuse(http.StatusServiceUnavailable, authn.ReasonStoreUnavailable, err)
	}
	l := ls[t.Index]
	policyField := ratePolicies(ls)
	if !t.OK {
		if rl.hooks.Refused != nil {
			rl.hooks.Refused(l.Kind())
		}
		retry := ceilSeconds(t.Retry)
		return &Error{Status: http.StatusTooManyRequests, Reason: reasonRateLimited, RetryAfter: retry,
			RateLimitPolicy: policyField, RateLimit: rateField(l, 0, retry)}
	}
	h := x.w.Header()
	h["Ratelimit-Policy"] = []string{policyField}
	h["Ratelimit"] = []string{rateField(l, t.Remaining, ceilSeconds(t.Full))}
	return nil
}

// rateCaller is who a request's budgets count: the app and the user, or,
// without a user (an API key alone, a guest), the app and the client's
// address prefix (policy.ClientPrefix: /64 for IPv6, the address for
// IPv4), so that one client of a shared key cannot spend the others'.
func rateCaller(x *transaction) string {
	app := "-"
	if a := x.who.ident.App; a != nil {
		app = a.Name()
	}
	if u := x.who.ident.User; u != "" {
		if x.who.ident.Admin {
			return app + "|admin:" + u // admins and users are named apart
		}
		return app + "|u:" + u
	}
	return app + "|a:" + policy.ClientPrefix(x.facts.client).String()
}

// ratePolicies is the RateLimit-Policy field of ls: one item per limit
// (draft-ietf-httpapi-ratelimit-headers-09: `"app";q=100;w=60`).
func ratePolicies(ls []*policy.RateLimit) string {
	if len(ls) == 1 {
		return ls[0].Policy()
	}
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.Policy()
	}
	return strings.Join(parts, ", ")
}

// rateField is the RateLimit field for l: r units remaining, t seconds
// (`"app";r=0;t=5`).
func rateField(l *policy.RateLimit, r, t int) string {
	return strconv.Quote(l.Kind()) + ";r=" + strconv.Itoa(r) + ";t=" + strconv.Itoa(t)
}

// ceilSeconds rounds d up to whole seconds, at least 1 for any positive d.
func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

// warn logs a store error of rate limits failing open, at most once per
// rateLimitsWarnEvery, with the number of errors since the last line.
func (rl *rateLimiter) warn(err error) {
	if n, ok := rl.warns.Allow(time.Now()); ok {
		rl.log.Warn("rate limits unavailable, requests proceed without them (rate_limits_on_error = open)",
			"err", err, "errors", n, "every", rateLimitsWarnEvery)
	}
}

var _ stage = rateLimit{}
