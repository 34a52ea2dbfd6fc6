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
