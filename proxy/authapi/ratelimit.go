package authapi

import (
	"hash/maphash"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Failed logins are rate-limited per client address and per (address,
// username): guessing one account's password from one address slows to one
// try every FailEvery after FailBurst failures; spraying many accounts from
// one address to one every addrEvery after addrBurst. Successful logins
// cost nothing, and people behind one NAT address mostly use different
// usernames, so they do not lock each other out. IPv6 clients are keyed by
// their /64.
//
// Each of the two tables holds at most maxLimiters entries and, when full,
// forgets the least recently used one (hashicorp/golang-lru): a flood of
// distinct addresses pushes out the oldest, idle entries, and never stops a
// fresh address from being counted. An address that keeps failing, or keeps
// trying while blocked, stays at the recent end.
const (
	FailBurst   = 20
	FailEvery   = 10 * time.Second
	addrBurst   = 100
	addrEvery   = time.Second
	maxLimiters = 100_000 // per table
)

// reasonLoginRateLimited is the 429 of a client over its failure budget.
const reasonLoginRateLimited = "login_rate_limited"

// limitKey is an (address, username) entry. The username is kept as a
// seeded 64-bit hash of its lower-case form, so that entries stay small
// whatever was typed; two names sharing a hash share one budget, which
// errs on the side of limiting.
type limitKey struct {
	addr netip.Prefix
	user uint64
}

// budget is one GCRA bucket: the time (Unix nanoseconds) at which it would
// be full again. A bucket of burst b and interval e is spent when that time
// is more than (b-1)*e ahead of now; a failure pushes it e further.
type budget int64

// loginLimiter tracks failed logins. It is safe for concurrent use.
type loginLimiter struct {
	mu    sync.Mutex
	addrs *simplelru.LRU[netip.Prefix, budget] // per address
	users *simplelru.LRU[limitKey, budget]     // per (address, username)
	seed  maphash.Seed
	now   func() time.Time
}

func newLoginLimiter() *loginLimiter {
	addrs, err := simplelru.NewLRU[netip.Prefix, budget](maxLimiters, nil)
	if err != nil {
		panic(err) // only for a size <= 0
	}
	users, err := simplelru.NewLRU[limitKey, budget](maxLimiters, nil)
	if err != nil {
		panic(err)
	}
	return &loginLimiter{addrs: addrs, users: users, seed: maphash.MakeSeed(), now: time.Now}
}

func (l *loginLimiter) keysFor(addr netip.Addr, user string) (netip.Prefix, limitKey) {
	bits := 32
	if addr.Is6() && !addr.Is4In6() {
		bits = 64
	}
	p, _ := addr.Unmap().Prefix(bits)
	return p, limitKey{addr: p, user: maphash.String(l.seed, strings.ToLower(user))}
}

// blocked reports whether addr (for user) has no failure budget left, so
// the attempt is refused before any password is checked. Looking an entry
// up marks it recently used.
func (l *loginLimiter) blocked(addr netip.Addr, user string) bool {
	a, u := l.keysFor(addr, user)
	now := l.now().UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.addrs.Get(a); ok && b.spent(now, addrEvery, addrBurst) {
		return true
	}
	if b, ok := l.users.Get(u); ok && b.spent(now, FailEvery, FailBurst) {
		return true
	}
	return false
}

// failed spends one unit of addr's and (addr, user)'s budgets.
func (l *loginLimiter) failed(addr netip.Addr, user string) {
	a, u := l.keysFor(addr, user)
	now := l.now().UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	spend(l.addrs, a, addrEvery, addrBurst, now)
	spend(l.users, u, FailEvery, FailBurst, now)
}

// spent reports whether no failure is left in b at now.
func (b budget) spent(now int64, every time.Duration, burst int) bool {
	return int64(b)-now > int64(burst-1)*int64(every)
}

// spend takes one failure from k's budget unless it is spent, creating the
// entry (and, in a full table, evicting the least recently used one) if k
// has none.
func spend[K comparable](t *simplelru.LRU[K, budget], k K, every time.Duration, burst int, now int64) {
	b, _ := t.Get(k) // absent: 0, a full budget
	if b.spent(now, every, burst) {
		return
	}
	t.Add(k, budget(max(int64(b), now)+int64(every)))
}

// len is the number of entries held, for tests.
func (l *loginLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addrs.Len() + l.users.Len()
}
