package authapi

import (
	"context"
	"hash/maphash"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
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
// stays at the recent end.
const (
	FailBurst   = 20
	FailEvery   = 10 * time.Second
	addrBurst   = 100
	addrEvery   = time.Second
	maxLimiters = 100_000 // per table
)

// reasonLoginRateLimited is the 429 of a client over its failure budget.
const reasonLoginRateLimited = "login_rate_limited"

// loginLimiter tracks failed logins in a store.Budgets. When the store
// fails, the login is refused (blocked returns the error before any
// password is checked). It is safe for concurrent use.
type loginLimiter struct {
	budgets store.Budgets
	seed    maphash.Seed
}

// newLoginLimiter returns a limiter over budgets; nil means in memory,
// on the clock now (nil: time.Now).
func newLoginLimiter(budgets store.Budgets, now func() time.Time) *loginLimiter {
	if budgets == nil {
		budgets = memstore.NewBudgets(maxLimiters, now)
	}
	return &loginLimiter{budgets: budgets, seed: maphash.MakeSeed()}
}

// limitsFor returns addr's budget and (addr, user)'s, in that order. The
// username is kept as a seeded 64-bit hash of its lower-case form, so that
// entries stay small whatever was typed; two names sharing a hash share
// one budget, which errs on the side of limiting. The seed is this
// process's: instances sharing a networked store will need one from the
// configuration to share per-user budgets (address budgets already match).
func (l *loginLimiter) limitsFor(addr netip.Addr, user string) (store.Limit, store.Limit) {
	p := policy.ClientPrefix(addr)
	a := "login-addr:" + p.String()
	u := "login-user:" + p.String() + ":" + strconv.FormatUint(maphash.String(l.seed, strings.ToLower(user)), 16)
	return store.Limit{Key: a, Every: addrEvery, Burst: addrBurst},
		store.Limit{Key: u, Every: FailEvery, Burst: FailBurst}
}

// blocked reports whether addr (for user) has no failure budget left, so
// the attempt is refused before any password is checked. Looking an entry
// up marks it recently used. An error is the store's: the caller refuses.
func (l *loginLimiter) blocked(ctx context.Context, addr netip.Addr, user string) (bool, error) {
	a, u := l.limitsFor(addr, user)
	return l.budgets.Spent(ctx, a, u)
}

// failed spends one unit of addr's and (addr, user)'s budgets.
func (l *loginLimiter) failed(ctx context.Context, addr netip.Addr, user string) error {
	a, u := l.limitsFor(addr, user)
	return l.budgets.Spend(ctx, a, u)
}
