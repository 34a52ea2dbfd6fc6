package proxy

import (
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Failed logins are rate-limited per client address and per (address,
// username): guessing one account's password from one address slows to one
// try every failEvery after failBurst failures; spraying many accounts from
// one address to one every addrEvery after addrBurst. Successful logins
// cost nothing, and people behind one NAT address mostly use different
// usernames, so they do not lock each other out. IPv6 clients are keyed by
// their /64.
const (
	failBurst   = 20
	failEvery   = 10 * time.Second
	addrBurst   = 100
	addrEvery   = time.Second
	maxLimiters = 100_000 // per table; idle entries are dropped first
	limiterIdle = 30 * time.Minute
)

// reasonLoginRateLimited is the 429 of a client over its failure budget.
const reasonLoginRateLimited = "login_rate_limited"

type limitKey struct {
	addr netip.Prefix
	user string // "" = the address as a whole
}

type clientLimit struct {
	lim  *rate.Limiter
	seen time.Time
}

// loginLimiter tracks failed logins. It is safe for concurrent use.
type loginLimiter struct {
	mu      sync.Mutex
	entries map[limitKey]*clientLimit
	now     func() time.Time
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{entries: make(map[limitKey]*clientLimit), now: time.Now}
}

func keysFor(addr netip.Addr, user string) (limitKey, limitKey) {
	bits := 32
	if addr.Is6() && !addr.Is4In6() {
		bits = 64
	}
	p, _ := addr.Unmap().Prefix(bits)
	return limitKey{addr: p}, limitKey{addr: p, user: strings.ToLower(user)}
}

// blocked reports whether addr (for user) has no failure budget left, so
// the attempt is refused before any password is checked.
func (l *loginLimiter) blocked(addr netip.Addr, user string) bool {
	a, u := keysFor(addr, user)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range [2]limitKey{a, u} {
		if c, ok := l.entries[k]; ok && c.lim.TokensAt(now) < 1 {
			return true
		}
	}
	return false
}

// failed spends one unit of addr's and (addr, user)'s budgets.
func (l *loginLimiter) failed(addr netip.Addr, user string) {
	a, u := keysFor(addr, user)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.spend(a, addrEvery, addrBurst, now)
	l.spend(u, failEvery, failBurst, now)
}

func (l *loginLimiter) spend(k limitKey, every time.Duration, burst int, now time.Time) {
	c, ok := l.entries[k]
	if !ok {
		if len(l.entries) >= maxLimiters {
			for key, e := range l.entries { // by now their buckets are full again
				if now.Sub(e.seen) > limiterIdle {
					delete(l.entries, key)
				}
			}
		}
		if len(l.entries) >= maxLimiters {
			return // a flood of distinct keys: the per-address entry still counts
		}
		c = &clientLimit{lim: rate.NewLimiter(rate.Every(every), burst)}
		l.entries[k] = c
	}
	c.seen = now
	c.lim.AllowN(now, 1)
}
