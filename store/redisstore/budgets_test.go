package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/store"
	"github.com/gatehouse-dev/gatehouse/store/memstore"
)

// fakeClock is a clock that stands still until advanced, in whole
// microseconds (Redis budgets count microseconds).
type fakeClock struct{ us atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.us.Store(time.Now().Truncate(time.Second).UnixMicro())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.UnixMicro(c.us.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.us.Add(d.Microseconds()) }

// Two instances share one budget: failures spread over both block both.
func TestBudgets_SharedAcrossInstances(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	a := NewBudgets(newClient(t, srv), "gh:")
	b := NewBudgets(newClient(t, srv), "gh:")
	ctx := context.Background()
	const burst = 20
	l := store.Limit{Key: "login-user:192.0.2.0/24:abc", Every: 10 * time.Second, Burst: burst}
	for i := range burst {
		x := a
		if i%2 == 1 {
			x = b
		}
		if spent, err := x.Spent(ctx, l); spent || err != nil {
			t.Fatalf("failure %d: spent %v, %v", i, spent, err)
		}
		if err := x.Spend(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	for name, x := range map[string]*Budgets{"A": a, "B": b} {
		if spent, err := x.Spent(ctx, l); !spent || err != nil {
			t.Errorf("%s after %d failures split over A and B: spent %v, %v", name, burst, spent, err)
		}
	}
	// The key expires when the budget would be full again: burst*every
	// from now, on the server's clock.
	pttl, err := srv.Do("PTTL", "gh:budget:"+l.Key)
	if err != nil {
		t.Fatal(err)
	}
	if p := time.Duration(pttl.(int64)) * time.Millisecond; p <= (burst-1)*l.Every || p > burst*l.Every {
		t.Errorf("PTTL %v, want about %v", p, burst*l.Every)
	}
	// Another prefix is another deployment.
	if spent, err := NewBudgets(newClient(t, srv), "other:").Spent(ctx, l); spent || err != nil {
		t.Errorf("other prefix: %v %v", spent, err)
	}
}

// The server's clock refills budgets: after one interval a spent budget of
// burst 2 has a unit again.
func TestBudgets_ServerTimeRefills(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	b := NewBudgets(newClient(t, srv), "gh:")
	ctx := context.Background()
	l := store.Limit{Key: "k", Every: 300 * time.Millisecond, Burst: 2}
	for range 3 {
		if err := b.Spend(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	if spent, err := b.Spent(ctx, l); !spent || err != nil {
		t.Fatalf("spent %v, %v", spent, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		spent, err := b.Spent(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		if !spent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the budget never refilled")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// And the key goes away once the budget is full again.
	for {
		n, err := srv.Do("EXISTS", "gh:budget:k")
		if err != nil {
			t.Fatal(err)
		}
		if n.(int64) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the full budget's key did not expire")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Redis budgets answer as memstore's on the same sequences of calls at the
// same times.
func TestBudgets_SameAnswersAsMemstore(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	client := newClient(t, srv)
	ctx := context.Background()
	addr := store.Limit{Key: "login-addr:a", Every: 1 * time.Second, Burst: 5}
	user := store.Limit{Key: "login-user:a:u", Every: 10 * time.Second, Burst: 3}
	other := store.Limit{Key: "login-user:a:v", Every: 10 * time.Second, Burst: 3}
	one := store.Limit{Key: "one", Every: 2 * time.Second, Burst: 1}
	type step struct {
		op     string // "spend", "spent" or "wait"
		limits []store.Limit
		d      time.Duration
	}
	spend := func(l ...store.Limit) step { return step{op: "spend", limits: l} }
	spent := func(l ...store.Limit) step { return step{op: "spent", limits: l} }
	wait := func(d time.Duration) step { return step{op: "wait", d: d} }
	rep := func(n int, s step) []step {
		out := make([]step, 0, 2*n)
		for range n {
			out = append(out, spent(s.limits...), s)
		}
		return out
	}
	seqs := map[string][]step{
		"burst then refill": append(rep(4, spend(user)),
			spent(user), wait(9*time.Second), spent(user), wait(time.Second), spent(user), spend(user), spent(user),
			wait(30*time.Second), spent(user), spend(user), spend(user), spent(user)),
		"spent stays as it is": append(rep(10, spend(one)),
			spent(one), wait(2*time.Second-time.Microsecond), spent(one), wait(time.Microsecond), spent(one)),
		"two limits, the first spent answers": append(rep(6, spend(addr, user)),
			spent(addr), spent(user), spent(other), spent(other, addr), wait(time.Second), spent(addr), spent(addr, user),
			spend(addr, other), spent(addr), spent(other)),
		"absent is full": {spent(user, addr, one), spend(one), spent(one), spent(user)},
		"partial refill": append(rep(3, spend(user)),
			wait(5*time.Second), spent(user), wait(5*time.Second), spend(user), spent(user), wait(15*time.Second), spent(user)),
		"no limits":           {spent(), spend(), spent()},
		"same key twice":      {spend(one, one), spent(one), wait(2 * time.Second), spent(one)},
		"interleaved waiting": append(rep(3, spend(addr)), wait(300*time.Millisecond), spend(addr), spend(addr), spend(addr), spent(addr), wait(700*time.Millisecond), spent(addr)),
	}
	run := 0
	for name, seq := range seqs {
		t.Run(name, func(t *testing.T) {
			run++
			clk := newFakeClock()
			mem := memstore.NewBudgets(100, clk.Now)
			red := NewBudgets(client, fmt.Sprintf("eq%d:", run))
			red.now = clk.Now
			for i, s := range seq {
				switch s.op {
				case "wait":
					clk.Advance(s.d)
				case "spend":
					if err := mem.Spend(ctx, s.limits...); err != nil {
						t.Fatal(err)
					}
					if err := red.Spend(ctx, s.limits...); err != nil {
						t.Fatal(err)
					}
				case "spent":
					want, _ := mem.Spent(ctx, s.limits...)
					got, err := red.Spent(ctx, s.limits...)
					if err != nil {
						t.Fatal(err)
					}
					if got != want {
						t.Fatalf("step %d (spent %v): redis %v, memstore %v", i, keysOf(s.limits), got, want)
					}
				}
			}
		})
	}
}

func keysOf(ls []store.Limit) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Key
	}
	return out
}

// Concurrent Spends on two instances lose no update and overshoot no
// budget: with the clock standing still, after n Spends the budget's TAT
// is exactly now + min(n, burst)*every (a spent budget stays as it is), so
// exactly Burst failures are counted before it blocks.
func TestBudgets_ConcurrentSpendsAreAtomic(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	clk := newFakeClock()
	a := NewBudgets(newClient(t, srv), "gh:")
	b := NewBudgets(newClient(t, srv), "gh:")
	a.now, b.now = clk.Now, clk.Now
	ctx := context.Background()
	for _, n := range []int{19, 20, 64} {
		l := store.Limit{Key: "k" + strconv.Itoa(n), Every: 10 * time.Second, Burst: 20}
		var wg sync.WaitGroup
		for i := range n {
			x := a
			if i%2 == 1 {
				x = b
			}
			wg.Go(func() {
				if err := x.Spend(ctx, l); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		v, err := srv.Do("GET", "gh:budget:"+l.Key)
		if err != nil {
			t.Fatal(err)
		}
		tat, _ := strconv.ParseInt(v.(string), 10, 64)
		units := (tat - clk.Now().UnixMicro()) / l.Every.Microseconds()
		if want := int64(min(n, l.Burst)); units != want || (tat-clk.Now().UnixMicro())%l.Every.Microseconds() != 0 {
			t.Errorf("%d concurrent spends: %d units taken (TAT %d), want %d", n, units, tat, want)
		}
		spent, err := b.Spent(ctx, l)
		if err != nil || spent != (n >= l.Burst) {
			t.Errorf("%d spends: spent %v, %v", n, spent, err)
		}
	}
}

// The scripts survive a SCRIPT FLUSH (EVALSHA falls back to EVAL), and a
// Redis that is down is an error for both calls.
func TestBudgets_ScriptFlushAndDown(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	b := NewBudgets(newClient(t, srv), "gh:")
	ctx := context.Background()
	l := store.Limit{Key: "k", Every: time.Minute, Burst: 1}
	if err := b.Spend(ctx, l); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Do("SCRIPT", "FLUSH"); err != nil {
		t.Fatal(err)
	}
	if spent, err := b.Spent(ctx, l); !spent || err != nil {
		t.Fatalf("after SCRIPT FLUSH: %v %v", spent, err)
	}
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := b.Spent(tctx, l); err == nil {
		t.Error("Spent with Redis down: no error")
	}
	if err := b.Spend(tctx, l); err == nil {
		t.Error("Spend with Redis down: no error")
	}
	// Redis comes back empty, without its scripts: the same Budgets
	// recovers (new connection, EVAL fallback) and the budget is full.
	srv.Restart(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		spent, err := b.Spent(ctx, l)
		if err == nil {
			if spent {
				t.Fatal("a budget spent before the empty restart is still spent")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after the restart: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := b.Spend(ctx, l); err != nil {
		t.Fatal(err)
	}
	if spent, err := b.Spent(ctx, l); !spent || err != nil {
		t.Fatalf("after the restart: %v %v", spent, err)
	}
}

func BenchmarkRoundTrips(b *testing.B) {
	srv := testenv.StartRedis(b, testenv.RedisOptions{})
	o := srv.ClientOptions()
	c := redis.NewClient(o)
	b.Cleanup(func() { _ = c.Close() })
	bu := NewBudgets(c, "gh:")
	ctx := context.Background()
	limits := []store.Limit{{Key: "login-addr:a", Every: time.Second, Burst: 100}, {Key: "login-user:a:u", Every: 10 * time.Second, Burst: 20}}
	b.Run("Spent", func(b *testing.B) {
		for b.Loop() {
			if _, err := bu.Spent(ctx, limits...); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Spend", func(b *testing.B) {
		for b.Loop() {
			if err := bu.Spend(ctx, limits...); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Take", func(b *testing.B) {
		rl := []store.Limit{{Key: "rl:app:portal|portal|a:192.0.2.1", Every: time.Microsecond, Burst: 1_000_000}}
		for b.Loop() {
			if _, err := bu.Take(ctx, rl); err != nil {
				b.Fatal(err)
			}
		}
		v, err := srv.Do("MEMORY", "USAGE", "gh:budget:"+rl[0].Key)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(v.(int64)), "key-bytes")
	})
	b.Run("OneTimeUse", func(b *testing.B) {
		ot := NewOneTime(c, "gh:")
		i := 0
		for b.Loop() {
			i++
			if _, err := ot.Use(ctx, strconv.Itoa(i), "", time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Take answers as memstore's on the same sequences at the same times.
func TestBudgets_TakeSameAnswersAsMemstore(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	client := newClient(t, srv)
	ctx := context.Background()
	app := store.Limit{Key: "rl:app", Every: 600 * time.Millisecond, Burst: 5}
	grant := store.Limit{Key: "rl:grant", Every: 10 * time.Second, Burst: 2}
	user := store.Limit{Key: "rl:user", Every: time.Second, Burst: 1}
	type step struct {
		limits []store.Limit
		wait   time.Duration
	}
	seq := []step{
		{limits: []store.Limit{app, grant}}, {limits: []store.Limit{app, grant}}, {limits: []store.Limit{app, grant}},
		{limits: []store.Limit{app}}, {limits: []store.Limit{app}}, {limits: []store.Limit{app}}, {limits: []store.Limit{app}},
		{wait: 700 * time.Millisecond}, {limits: []store.Limit{user, app}}, {limits: []store.Limit{user, app}},
		{wait: 10 * time.Second}, {limits: []store.Limit{grant, user, app}}, {limits: []store.Limit{grant}}, {limits: []store.Limit{grant}},
		{wait: time.Microsecond}, {limits: []store.Limit{user}},
	}
	clk := newFakeClock()
	mem := memstore.NewBudgets(100, clk.Now)
	red := NewBudgets(client, "take:")
	red.now = clk.Now
	for i, s := range seq {
		if s.limits == nil {
			clk.Advance(s.wait)
			continue
		}
		want, _ := mem.Take(ctx, s.limits)
		got, err := red.Take(ctx, s.limits)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("step %d (take %v): redis %+v, memstore %+v", i, keysOf(s.limits), got, want)
		}
	}
}

// Concurrent Takes on two instances take exactly Burst units of a budget
// whose clock stands still, and the refused ones spend nothing of a
// second, larger budget taken with it.
func TestBudgets_ConcurrentTakesAreAtomic(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	clk := newFakeClock()
	a := NewBudgets(newClient(t, srv), "gh:")
	b := NewBudgets(newClient(t, srv), "gh:")
	a.now, b.now = clk.Now, clk.Now
	ctx := context.Background()
	small := store.Limit{Key: "rl:small", Every: time.Second, Burst: 15}
	big := store.Limit{Key: "rl:big", Every: time.Second, Burst: 1000}
	var taken, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 64 {
		x := a
		if i%2 == 1 {
			x = b
		}
		wg.Go(func() {
			r, err := x.Take(ctx, []store.Limit{big, small})
			switch {
			case err != nil:
				t.Error(err)
			case r.OK:
				taken.Add(1)
			case r.Index != 1 || r.Retry != time.Second:
				t.Errorf("refused by %d, retry %v; want the small one, 1s", r.Index, r.Retry)
			default:
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	if taken.Load() != 15 || refused.Load() != 49 {
		t.Errorf("taken %d, refused %d; want 15, 49", taken.Load(), refused.Load())
	}
	r, err := a.Take(ctx, []store.Limit{big})
	if err != nil || !r.OK || r.Remaining != 1000-16 {
		t.Errorf("big budget after: %+v %v; want %d left (refusals spend nothing)", r, err, 1000-16)
	}
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := a.Take(tctx, []store.Limit{small}); err == nil {
		t.Error("Take with Redis down: no error")
	}
}
