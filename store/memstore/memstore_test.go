package memstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/acme/autocert"

	"github.com/gatehouse-dev/gatehouse/store"
)

// clock is a settable time source.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) now() time.Time               { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration)          { c.ns.Add(int64(d)) }
func (c *clock) at(d time.Duration) time.Time { return c.now().Add(d) }

var ctx = context.Background()

func TestRevocations(t *testing.T) {
	c := newClock()
	r := NewRevocations(c.now)
	steps := []struct {
		name      string
		revoke    string        // "" to only check
		until     time.Duration // from now
		wantFirst bool
		check     string
		revoked   bool
		len       int
	}{
		{"unknown id", "", 0, false, "a", false, 0},
		{"first revocation", "a", time.Hour, true, "a", true, 1},
		{"second revocation of a", "a", time.Hour, false, "a", true, 1},
		{"another id", "b", time.Minute, true, "b", true, 2},
		{"a still unknown neighbour", "", 0, false, "c", false, 2},
	}
	for _, s := range steps {
		if s.revoke != "" {
			first, err := r.Revoke(ctx, s.revoke, c.at(s.until))
			if err != nil || first != s.wantFirst {
				t.Errorf("%s: Revoke = %v, %v; want %v", s.name, first, err, s.wantFirst)
			}
		}
		if got, err := r.Revoked(s.check, time.Time{}); err != nil || got != s.revoked {
			t.Errorf("%s: Revoked(%q) = %v, %v; want %v", s.name, s.check, got, err, s.revoked)
		}
		if n := r.Len(); n != s.len {
			t.Errorf("%s: Len = %d, want %d", s.name, n, s.len)
		}
	}
}

// Every pruneEvery-th revocation forgets the expired ones, and only them.
func TestRevocations_Prune(t *testing.T) {
	c := newClock()
	r := NewRevocations(c.now)
	for i := range pruneEvery - 2 {
		_, _ = r.Revoke(ctx, fmt.Sprint("old", i), c.at(time.Hour))
	}
	_, _ = r.Revoke(ctx, "long", c.at(72*time.Hour))
	c.add(48 * time.Hour)
	if ok, _ := r.Revoked("old0", time.Time{}); !ok {
		t.Fatal("an expired revocation was forgotten before a prune")
	}
	_, _ = r.Revoke(ctx, "new", c.at(time.Hour)) // the pruneEvery-th
	if n := r.Len(); n != 2 {
		t.Errorf("after prune: Len = %d, want 2", n)
	}
	for id, want := range map[string]bool{"old0": false, "long": true, "new": true} {
		if ok, _ := r.Revoked(id, time.Time{}); ok != want {
			t.Errorf("Revoked(%q) = %v, want %v", id, ok, want)
		}
	}
}

// Of many concurrent revocations of one id, exactly one is first.
func TestRevocations_ConcurrentSingleUse(t *testing.T) {
	r := NewRevocations(nil)
	var firsts atomic.Int32
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			if first, _ := r.Revoke(ctx, "sid", time.Now().Add(time.Hour)); first {
				firsts.Add(1)
			}
		})
	}
	wg.Wait()
	if n := firsts.Load(); n != 1 {
		t.Errorf("%d revocations were first, want 1", n)
	}
}

func BenchmarkRevocations_Revoked(b *testing.B) {
	r := NewRevocations(nil)
	for i := range 10000 {
		_, _ = r.Revoke(ctx, fmt.Sprint(i), time.Now().Add(time.Hour))
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := r.Revoked("0123456789abcdef0123456789abcdef", time.Time{}); ok {
			b.Fatal("revoked")
		}
	}
}

func TestOneTime(t *testing.T) {
	c := newClock()
	o := NewOneTime(OneTimeOptions{Max: 4, MaxPerOwner: 2, Now: c.now})
	steps := []struct {
		name       string
		advance    time.Duration
		key, owner string
		ttl        time.Duration
		fresh      bool
		len        int
	}{
		{"first use", 0, "s1", "A", time.Minute, true, 1},
		{"replay", 0, "s1", "A", time.Minute, false, 1},
		{"replay by another owner", 0, "s1", "B", time.Minute, false, 1},
		{"A's second", 0, "s2", "A", time.Minute, true, 2},
		{"A's third pushes out A's first", 0, "s3", "A", time.Minute, true, 2},
		{"s1 is forgotten", 0, "s1", "B", time.Minute, true, 3},
		{"B's second", 0, "b2", "B", time.Minute, true, 4},
		{"full: the oldest (s2) goes", 0, "c1", "C", time.Minute, true, 4},
		{"s2 forgotten; full: s3 goes", 0, "s2", "D", 10 * time.Minute, true, 4},
		{"full: s1 goes, s2 is remembered", 0, "s2", "E", time.Minute, false, 3},
		{"after a minute the short ones expire", time.Minute, "e1", "E", time.Minute, true, 2},
		{"the long one is still used", 0, "s2", "E", time.Minute, false, 2},
	}
	for _, s := range steps {
		c.add(s.advance)
		fresh, err := o.Use(ctx, s.key, s.owner, s.ttl)
		if err != nil || fresh != s.fresh {
			t.Errorf("%s: Use(%q, %q) = %v, %v; want %v", s.name, s.key, s.owner, fresh, err, s.fresh)
		}
		if n := o.Len(); n != s.len {
			t.Errorf("%s: Len = %d, want %d", s.name, n, s.len)
		}
	}
}

// A value that expired behind a longer-lived one (ttl varies by call) is
// fresh again, although the sweep from the oldest has not reached it.
func TestOneTime_ExpiredBehindLonger(t *testing.T) {
	c := newClock()
	o := NewOneTime(OneTimeOptions{Max: 10, MaxPerOwner: 10, Now: c.now})
	_, _ = o.Use(ctx, "long", "A", time.Hour)
	_, _ = o.Use(ctx, "short", "A", time.Minute)
	c.add(2 * time.Minute)
	if fresh, _ := o.Use(ctx, "short", "A", time.Minute); !fresh {
		t.Error("an expired value is still refused")
	}
	if fresh, _ := o.Use(ctx, "long", "A", time.Hour); fresh {
		t.Error("an unexpired value was fresh again")
	}
}

// Of many concurrent uses of one value, exactly one is fresh.
func TestOneTime_ConcurrentSingleUse(t *testing.T) {
	o := NewOneTime(OneTimeOptions{Max: 1000, MaxPerOwner: 1000})
	for round := range 20 {
		var fresh atomic.Int32
		var wg sync.WaitGroup
		key := fmt.Sprint("state", round)
		for i := range 32 {
			wg.Go(func() {
				if ok, _ := o.Use(ctx, key, fmt.Sprint("owner", i%4), time.Minute); ok {
					fresh.Add(1)
				}
			})
		}
		wg.Wait()
		if n := fresh.Load(); n != 1 {
			t.Errorf("round %d: %d uses were fresh, want 1", round, n)
		}
	}
}

func TestBudgets(t *testing.T) {
	c := newClock()
	b := NewBudgets(100, c.now)
	slow := store.Limit{Key: "u", Every: 10 * time.Second, Burst: 3}
	fast := store.Limit{Key: "a", Every: time.Second, Burst: 5}
	steps := []struct {
		name    string
		advance time.Duration
		spend   int // units spent from both
		spent   bool
	}{
		{"fresh", 0, 0, false},
		{"two of three", 0, 2, false},
		{"three of three", 0, 1, true},
		{"more tries do not push it further", 0, 10, true},
		{"one unit back after Every", 10 * time.Second, 0, false},
		{"and spent again", 0, 1, true},
		{"full after burst*Every", 30 * time.Second, 2, false},
	}
	for _, s := range steps {
		c.add(s.advance)
		for range s.spend {
			if err := b.Spend(ctx, fast, slow); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := b.Spent(ctx, slow); err != nil || got != s.spent {
			t.Errorf("%s: Spent = %v, %v; want %v", s.name, got, err, s.spent)
		}
	}
	if got, _ := b.Spent(ctx, fast); got {
		t.Error("the faster budget is spent")
	}
	if got, _ := b.Spent(ctx, fast, slow); got {
		t.Error("Spent of both after the refill")
	}
	if n := b.Len(); n != 2 {
		t.Errorf("Len = %d, want one entry in each of two tables", n)
	}
}

// Each rate has its own table of at most size entries, evicting the least
// recently used.
func TestBudgets_TablePerRateLRU(t *testing.T) {
	c := newClock()
	b := NewBudgets(3, c.now)
	lim := func(k string) store.Limit { return store.Limit{Key: k, Every: time.Minute, Burst: 1} }
	other := store.Limit{Key: "x", Every: time.Second, Burst: 1}
	_ = b.Spend(ctx, lim("a"), other)
	_ = b.Spend(ctx, lim("b"))
	_ = b.Spend(ctx, lim("c"))
	_, _ = b.Spent(ctx, lim("a")) // a is now the most recent
	_ = b.Spend(ctx, lim("d"))    // evicts b
	for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if got, _ := b.Spent(ctx, lim(k)); got != want {
			t.Errorf("Spent(%s) = %v, want %v", k, got, want)
		}
	}
	if got, _ := b.Spent(ctx, other); !got {
		t.Error("the other rate's table lost its entry")
	}
	if n := b.Len(); n != 4 {
		t.Errorf("Len = %d, want 3 + 1", n)
	}
}

func TestCertificates(t *testing.T) {
	c := NewCertificates()
	if _, err := c.Get(ctx, "example.com"); !errors.Is(err, autocert.ErrCacheMiss) {
		t.Fatalf("Get of a missing key: %v", err)
	}
	data := []byte("pem")
	if err := c.Put(ctx, "example.com", data); err != nil {
		t.Fatal(err)
	}
	data[0] = 'X' // the cache kept a copy
	got, err := c.Get(ctx, "example.com")
	if err != nil || string(got) != "pem" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if err := c.Delete(ctx, "example.com"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "example.com"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
	if _, err := c.Get(ctx, "example.com"); !errors.Is(err, autocert.ErrCacheMiss) {
		t.Fatalf("Get after Delete: %v", err)
	}
	var _ autocert.Cache = store.Certificates(c) // any Certificates is an autocert.Cache
}

func TestLocker(t *testing.T) {
	l := NewLocker()
	ctx := context.Background()
	unlock, lost, err := l.Lock(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	// Another name is independent.
	unlockB, _, err := l.Lock(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	unlockB()
	// A waiter gives up at its deadline.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, _, err := l.Lock(short, "a"); err != context.DeadlineExceeded {
		t.Fatalf("Lock on a held name = %v, want deadline exceeded", err)
	}
	// A waiter gets it once released; unlock is idempotent.
	got := make(chan error, 1)
	go func() {
		u, _, err := l.Lock(ctx, "a")
		if err == nil {
			u()
		}
		got <- err
	}()
	unlock()
	unlock()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	select {
	case <-lost:
		t.Fatal("a memory lock was lost")
	default:
	}
}

// Take is all or none: a spent limit refuses and spends nothing of the
// others; the answer names the refusing limit, or the one with the fewest
// units left, with its timings.
func TestBudgets_Take(t *testing.T) {
	c := newClock()
	b := NewBudgets(100, c.now)
	app := store.Limit{Key: "rl:app", Every: time.Second, Burst: 3}
	grant := store.Limit{Key: "rl:grant", Every: 10 * time.Second, Burst: 2}
	both := []store.Limit{app, grant}
	steps := []struct {
		name    string
		advance time.Duration
		limits  []store.Limit
		want    store.Taken
	}{
		{"fresh: the grant has fewer left", 0, both, store.Taken{OK: true, Index: 1, Remaining: 1, Full: 10 * time.Second}},
		{"the grant's last unit", 0, both, store.Taken{OK: true, Index: 1, Remaining: 0, Full: 20 * time.Second}},
		{"the grant refuses", 0, both, store.Taken{Index: 1, Retry: 10 * time.Second, Full: 20 * time.Second}},
		{"and spent nothing of the app", 0, []store.Limit{app}, store.Taken{OK: true, Index: 0, Remaining: 0, Full: 3 * time.Second}},
		{"the app refuses first", 0, both, store.Taken{Index: 0, Retry: time.Second, Full: 3 * time.Second}},
		{"partly back", 1500 * time.Millisecond, []store.Limit{app}, store.Taken{OK: true, Index: 0, Remaining: 0, Full: 2500 * time.Millisecond}},
		{"retry rounds to the unit", 0, []store.Limit{app}, store.Taken{Index: 0, Retry: 500 * time.Millisecond, Full: 2500 * time.Millisecond}},
		{"both back after the grant's interval", 10 * time.Second, both, store.Taken{OK: true, Index: 1, Remaining: 0, Full: 18500 * time.Millisecond}},
		{"no limits", 0, nil, store.Taken{OK: true}},
	}
	for _, s := range steps {
		c.add(s.advance)
		got, err := b.Take(ctx, s.limits)
		if err != nil || got != s.want {
			t.Errorf("%s: Take = %+v, %v; want %+v", s.name, got, err, s.want)
		}
	}
}
