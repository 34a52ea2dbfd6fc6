package authapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/logevery"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/settings"
	"github.com/gatehouse-dev/gatehouse/store"
	"github.com/gatehouse-dev/gatehouse/store/memstore"
)

// Failed logins are rate-limited per client address and per (address,
// username): guessing one account's password from one address slows to one
// try every FailEvery after FailBurst failures; spraying many accounts from
// one address to one every addrEvery after addrBurst. Successful logins
// cost nothing, and people behind one NAT address mostly use different
// usernames, so they do not lock each other out. IPv6 clients are keyed by
// their /64.
//
// The budgets live in a store.Budgets. In the default, in-memory one
// (memstore.Budgets), each of the two kinds of budget has its own table of
// at most maxLimiters entries that, when full, forgets the least recently
// used one (hashicorp/golang-lru): a flood of distinct addresses pushes out
// the oldest, idle entries, and never stops a fresh address from being
// counted. An address that keeps failing, or keeps trying while blocked,
// stays at the recent end. A shared store (redisstore.Budgets) counts the
// failures on all instances together: the keys must then be the same on
// every instance, so nothing in them comes from the process (see
// limitsFor).
const (
	FailBurst   = 20
	FailEvery   = 10 * time.Second
	addrBurst   = 100
	addrEvery   = time.Second
	maxLimiters = 100_000 // per table
)

// reasonLoginRateLimited is the 429 of a client over its failure budget.
const reasonLoginRateLimited = "login_rate_limited"

// What the failed-login limits do when their store fails
// (Options.LimitsOnError).
const (
	// LimitsClosed refuses the login (503 store_unavailable) before any
	// password is checked, and a failed login whose failure cannot be
	// counted with 503 rather than its 401. The default: a brute-force
	// limit that fails open is no limit while the store is down, and an
	// attacker who can make it fail (by loading the store) gets unlimited
	// guesses, whereas failing closed only delays logins, not sessions
	// already issued.
	LimitsClosed = settings.LimitsClosed
	// LimitsOpen lets the login go on to the password check as if the
	// budget had units left, and a failure that cannot be counted is the
	// plain 401; a warning is logged at most once per limitsWarnEvery,
	// with the number of store errors since the last one. For deployments
	// that prefer logins to a limit while Redis is away (Kong's and
	// Envoy's rate limits fail open by default).
	LimitsOpen = settings.LimitsOpen
)

// limitsWarnEvery bounds the warnings of a limiter failing open.
const limitsWarnEvery = time.Minute

// loginLimiter tracks failed logins in a store.Budgets. When the store
// fails, the login is refused (blocked returns the error before any
// password is checked), unless the limiter fails open. It is safe for
// concurrent use.
type loginLimiter struct {
	budgets store.Budgets
	open    bool // LimitsOpen
	log     *slog.Logger
	warns   logevery.Every // the warnings of failing open, one per limitsWarnEvery
}

// newLoginLimiter returns a limiter over budgets; nil means in memory,
// on the clock now (nil: time.Now). onError is LimitsClosed ("" too) or
// LimitsOpen; log is where failing open is reported (nil:
// slog.Default()).
func newLoginLimiter(budgets store.Budgets, now func() time.Time, onError string, log *slog.Logger) *loginLimiter {
	if budgets == nil {
		budgets = memstore.NewBudgets(maxLimiters, now)
	}
	if log == nil {
		log = slog.Default()
	}
	switch onError {
	case "", LimitsClosed, LimitsOpen:
	default:
		panic(fmt.Sprintf("authapi: LimitsOnError %q is neither %q nor %q", onError, LimitsClosed, LimitsOpen))
	}
	return &loginLimiter{budgets: budgets, open: onError == LimitsOpen, log: log, warns: logevery.Every{Period: limitsWarnEvery}}
}

// limitsFor returns addr's budget and (addr, user)'s, in that order. The
// username is kept as 64 bits of HMAC-SHA256 of its lower-case form,
// keyed with userKey (derived from the configuration's sessions signing
// key, see derivedKeys), in hex: entries stay small whatever was typed,
// every instance with the same configuration computes the same key, so a
// shared store counts one user's failures from all instances together,
// and a reader of the store cannot test guesses of the names against the
// keys (people type passwords into the username field; a plain hash would
// let a dictionary find them). Two names sharing a hash share one budget,
// which errs on the side of limiting.
func (l *loginLimiter) limitsFor(userKey []byte, addr netip.Addr, user string) (store.Limit, store.Limit) {
	p := policy.ClientPrefix(addr)
	a := "login-addr:" + p.String()
	m := hmac.New(sha256.New, userKey)
	m.Write([]byte(strings.ToLower(user)))
	var sum [sha256.Size]byte
	u := "login-user:" + p.String() + ":" + hex.EncodeToString(m.Sum(sum[:0])[:8])
	return store.Limit{Key: a, Every: addrEvery, Burst: addrBurst},
		store.Limit{Key: u, Every: FailEvery, Burst: FailBurst}
}

// blocked reports whether addr (for user) has no failure budget left, so
// the attempt is refused before any password is checked. Looking an entry
// up marks it recently used. An error is the store's: the caller refuses.
// Failing open, a store error is logged and the answer is false.
func (l *loginLimiter) blocked(ctx context.Context, userKey []byte, addr netip.Addr, user string) (bool, error) {
	a, u := l.limitsFor(userKey, addr, user)
	b, err := l.budgets.Spent(ctx, a, u)
	if err != nil && l.open {
		l.warn(err)
		return false, nil
	}
	return b, err
}

// failed spends one unit of addr's and (addr, user)'s budgets. Failing
// open, a store error is logged and not returned.
func (l *loginLimiter) failed(ctx context.Context, userKey []byte, addr netip.Addr, user string) error {
	a, u := l.limitsFor(userKey, addr, user)
	err := l.budgets.Spend(ctx, a, u)
	if err != nil && l.open {
		l.warn(err)
		return nil
	}
	return err
}

// warn logs a store error of a limiter failing open, at most once per
// limitsWarnEvery, counting the others.
func (l *loginLimiter) warn(err error) {
	if n, ok := l.warns.Allow(time.Now()); ok {
		l.log.Warn("failed-login limits unavailable, logins proceed without them (limits_on_error = open)",
			"err", err, "errors", n, "every", limitsWarnEvery)
	}
}
