package authapi

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/store/memstore"
)

// testClock returns a clock that stands still until advanced.
func testClock() (now func() time.Time, advance func(time.Duration)) {
	start := time.Now()
	var elapsed atomic.Int64
	return func() time.Time { return start.Add(time.Duration(elapsed.Load())) },
		func(d time.Duration) { elapsed.Add(int64(d)) }
}

// testLimiter is a loginLimiter in memory, whose store never fails.
type testLimiter struct {
	t   *testing.T
	l   *loginLimiter
	key []byte // the username hashes' key
}

func (tl testLimiter) blocked(addr netip.Addr, user string) bool {
	b, err := tl.l.blocked(context.Background(), tl.key, addr, user)
	if err != nil {
		tl.t.Fatal(err)
	}
	return b
}

func (tl testLimiter) failed(addr netip.Addr, user string) {
	if err := tl.l.failed(context.Background(), tl.key, addr, user); err != nil {
		tl.t.Fatal(err)
	}
}

// newTestLimiter returns a limiter in memory on the clock now, and the
// number of entries it holds.
func newTestLimiter(t *testing.T, now func() time.Time) (testLimiter, func() int) {
	b := memstore.NewBudgets(maxLimiters, now)
	return testLimiter{t, newLoginLimiter(b, nil, "", nil), derive([]byte("test secret"), "test")}, b.Len
}

// Spraying many accounts from one address hits the address budget.
func TestLoginLimiter_AddressBudget(t *testing.T) {
	now, advance := testClock()
	l, _ := newTestLimiter(t, now)
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
	advance(2 * addrEvery)
	if l.blocked(b, "someone-new") {
		t.Error("the address budget did not refill")
	}
}

// A full table must not make the limiter fail open (issue 18, point 13):
// after failures from more distinct addresses than the table holds, a fresh
// address guessing one account is still limited, and the table stays
// bounded.
func TestLoginLimiter_FullTableStillLimits(t *testing.T) {
	now, _ := testClock()
	l, size := newTestLimiter(t, now)
	for i := range maxLimiters + 1000 {
		l.failed(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), "someone")
	}
	fresh := netip.MustParseAddr("192.0.2.7")
	for range FailBurst {
		if l.blocked(fresh, "alice") {
			t.Fatal("blocked before the budget was spent")
		}
		l.failed(fresh, "alice")
	}
	if !l.blocked(fresh, "alice") {
		t.Errorf("a fresh address is not limited after %d failures with %d addresses in the table", FailBurst, maxLimiters+1000)
	}
	if n := size(); n > 2*maxLimiters {
		t.Errorf("%d entries held, want at most %d", n, 2*maxLimiters)
	}
}

// Eviction is by recency: a blocked address that keeps trying stays
// blocked through a flood of other addresses larger than the table.
func TestLoginLimiter_EvictsLeastRecentlyUsed(t *testing.T) {
	now, _ := testClock()
	l, _ := newTestLimiter(t, now)
	attacker := netip.MustParseAddr("192.0.2.66")
	for range FailBurst {
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
