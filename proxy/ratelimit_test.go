package proxy

import (
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Failed logins for one account from one address are limited; the right
// password does not get through once the budget is spent; other accounts
// from the same address (a NAT) still log in; the budget refills.
func TestLoginRateLimit(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, sessionSpec(t, up.URL))
	clk := &fakeClock{t: time.Now()}
	p.srv.logins.now = clk.now
	for i := range failBurst {
		if res, _, _ := p.login(t, testKey, "alice", "wrong"); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, res.StatusCode)
		}
	}
	before := p.srv.pwChecks.Load()
	res, _, _ := p.login(t, testKey, "alice", "alicepw")
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("after %d failures: %d (Retry-After %q), want 429", failBurst, res.StatusCode, res.Header.Get("Retry-After"))
	}
	if p.srv.pwChecks.Load() != before {
		t.Error("a rate-limited login still checked a password")
	}
	if res, _, _ := p.login(t, testKey, "ALICE", "alicepw"); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the username's case does not reset the budget: %d", res.StatusCode)
	}
	if res, _, _ := p.login(t, "", "root", "rootpw"); res.StatusCode != http.StatusOK {
		t.Errorf("another account from the same address: %d, want 200", res.StatusCode)
	}
	clk.add(failEvery)
	if res, _, _ := p.login(t, testKey, "alice", "alicepw"); res.StatusCode != http.StatusOK {
		t.Errorf("after %v: %d, want 200", failEvery, res.StatusCode)
	}
}

// Spraying many accounts from one address hits the address budget.
func TestLoginLimiter_AddressBudget(t *testing.T) {
	l := newLoginLimiter()
	clk := &fakeClock{t: time.Now()}
	l.now = clk.now
	a := netip.MustParseAddr("2001:db8::1")
	b := netip.MustParseAddr("2001:db8::2") // same /64
	for i := range addrBurst {
		l.failed(a, "user"+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	if !l.blocked(b, "someone-new") {
		t.Error("the /64 is not blocked after the address budget")
	}
	if l.blocked(netip.MustParseAddr("2001:db9::1"), "someone-new") {
		t.Error("another /64 is blocked")
	}
	clk.add(2 * addrEvery)
	if l.blocked(b, "someone-new") {
		t.Error("the address budget did not refill")
	}
}

// A full table must not make the limiter fail open (issue 18, point 13):
// after failures from more distinct addresses than the table holds, a fresh
// address guessing one account is still limited, and the table stays
// bounded.
func TestLoginLimiter_FullTableStillLimits(t *testing.T) {
	l := newLoginLimiter()
	clk := &fakeClock{t: time.Now()}
	l.now = clk.now
	for i := range maxLimiters + 1000 {
		l.failed(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), "someone")
	}
	fresh := netip.MustParseAddr("192.0.2.7")
	for range failBurst {
		if l.blocked(fresh, "alice") {
			t.Fatal("blocked before the budget was spent")
		}
		l.failed(fresh, "alice")
	}
	if !l.blocked(fresh, "alice") {
		t.Errorf("a fresh address is not limited after %d failures with %d addresses in the table", failBurst, maxLimiters+1000)
	}
	if n := l.len(); n > 2*maxLimiters {
		t.Errorf("%d entries held, want at most %d", n, 2*maxLimiters)
	}
}

// Eviction is by recency: a blocked address that keeps trying stays
// blocked through a flood of other addresses larger than the table.
func TestLoginLimiter_EvictsLeastRecentlyUsed(t *testing.T) {
	l := newLoginLimiter()
	clk := &fakeClock{t: time.Now()}
	l.now = clk.now
	attacker := netip.MustParseAddr("192.0.2.66")
	for range failBurst {
		l.failed(attacker, "alice")
	}
	flood := func(from, to int) {
		for i := from; i < to; i++ {
			l.failed(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), "someone")
		}
	}
	for round := range 4 {
		flood(round*maxLimiters/2, (round+1)*maxLimiters/2)
		if !l.blocked(attacker, "alice") { // the attempt refreshes the entry
			t.Fatalf("round %d: the attacker's budget was forgotten", round)
		}
	}
}
