package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/store"
)

const prefix = "gh:"

// client returns a go-redis client for addr (the server's own, or a
// cutter's). The pool has room for the reader's blocking XREAD beside
// Revoke.
func client(t testing.TB, red *testenv.Redis, addr string) *redis.Client {
	t.Helper()
	o := red.ClientOptions()
	o.Addr = addr
	o.PoolSize = 4
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = 500*time.Millisecond, 500*time.Millisecond, 500*time.Millisecond
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newRevs starts Revocations on c and waits for its first load.
func newRevs(t testing.TB, c redis.UniversalClient, opts RevocationsOptions) *Revocations {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := NewRevocations(ctx, c, prefix, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	if err := r.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

// eventually polls cond every few milliseconds until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var bg = context.Background()

func hour() time.Time { return time.Now().Add(time.Hour) }

// now is an issue time after every epoch a test creates.
func now() time.Time { return time.Now().Add(time.Minute) }

// A revocation on A is refused by B within 1 s; the p99 over 250 is
// reported.
func TestPropagation(t *testing.T) {
	red := testenv.StartRedis(t, testenv.RedisOptions{})
	a := newRevs(t, client(t, red, red.Addr), RevocationsOptions{})
	b := newRevs(t, client(t, red, red.Addr), RevocationsOptions{})
	const n = 250
	lat := make([]time.Duration, 0, n)
	for i := range n {
		id := fmt.Sprintf("prop-%d", i)
		start := time.Now()
		if first, err := a.Revoke(bg, id, hour()); !first || err != nil {
			t.Fatalf("Revoke = %v, %v", first, err)
		}
		deadline := start.Add(time.Second)
		for {
			ok, err := b.Revoked(id, now())
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("B did not see revocation %d within 1 s", i)
			}
			runtime.Gosched()
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[int(q*float64(n-1))] }
	t.Logf("propagation A -> B over %d revocations (including the Revoke round trip): p50 %v, p99 %v, max %v", n, p(0.5), p(0.99), lat[n-1])
	if p(0.99) >= time.Second {
		t.Errorf("p99 %v, want < 1 s", p(0.99))
	}
	if b.Len() != n {
		t.Errorf("B.Len = %d, want %d", b.Len(), n)
	}
}

// Of A and B revoking the same id at once, exactly one is first.
func TestFirstExactlyOnce(t *testing.T) {
	red := testenv.StartRedis(t, testenv.RedisOptions{})
	revs := []*Revocations{
		newRevs(t, client(t, red, red.Addr), RevocationsOptions{}),
		newRevs(t, client(t, red, red.Addr), RevocationsOptions{}),
	}
	for i := range 100 {
		id := fmt.Sprintf("refresh-%d", i)
		var firsts atomic.Int32
		var wg sync.WaitGroup
		for _, r := range revs {
			for range 2 {
				wg.Go(func() {
					first, err := r.Revoke(bg, id, hour())
					if err != nil {
						t.Error(err)
					}
					if first {
						firsts.Add(1)
					}
				})
			}
		}
		wg.Wait()
		if n := firsts.Load(); n != 1 {
			t.Fatalf("%s: %d revocations were first, want 1", id, n)
		}
	}
}

// A Revocations started after revocations were made loads them: they
// survive the restart of an instance.
func TestRestartLoads(t *testing.T) {
	red := testenv.StartRedis(t, testenv.RedisOptions{})
	c := client(t, red, red.Addr)
	a := newRevs(t, c, RevocationsOptions{})
	for i := range 20 {
		if _, err := a.Revoke(bg, fmt.Sprint("r", i), hour()); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	b, err := NewRevocations(bg, c, prefix, RevocationsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// Loaded by the constructor: no waiting.
	for i := range 20 {
		if ok, err := b.Revoked(fmt.Sprint("r", i), now()); !ok || err != nil {
			t.Errorf("Revoked(r%d) after restart = %v, %v", i, ok, err)
		}
	}
	if ok, err := b.Revoked("other", now()); ok || err != nil {
		t.Errorf("Revoked(other) = %v, %v", ok, err)
	}
	if b.Len() != 20 {
		t.Errorf("Len = %d", b.Len())
	}
}

// Redis restarted empty: sessions issued before are refused on every
// instance (and on one started afterwards), the ids known before stay
// refused, sessions issued after are accepted, and revoking works again.
func TestEmptyRedisNeverUnrevokes(t *testing.T) {
	t.Run("restart", func(t *testing.T) { testEmptyRedis(t, func(red *testenv.Redis) { red.Restart(t) }) })
	t.Run("flushall", func(t *testing.T) {
		testEmptyRedis(t, func(red *testenv.Redis) {
			if _, err := red.Do("FLUSHALL"); err != nil {
				t.Fatal(err)
			}
		})
	})
}

// testEmptyRedis empties Redis with empty while two instances run.
func testEmptyRedis(t *testing.T, empty func(*testenv.Redis)) {
	red := testenv.StartRedis(t, testenv.RedisOptions{})
	opts := RevocationsOptions{StaleAfter: 2 * time.Second, Block: 100 * time.Millisecond}
	a := newRevs(t, client(t, red, red.Addr), opts)
	b := newRevs(t, client(t, red, red.Addr), opts)
	oldNB := a.NotBefore()
	if !b.NotBefore().Equal(oldNB) {
		t.Fatalf("A and B disagree on the epoch: %v, %v", oldNB, b.NotBefore())
	}
	// A session issued under the first epoch; the restart comes after
	// it, so the new epoch starts later.
	issuedBefore := oldNB
	eventually(t, 2*time.Second, "the clock passes the first epoch", func() bool { return time.Now().After(oldNB) })
	if ok, err := b.Revoked("s1", issuedBefore); ok || err != nil {
		t.Fatalf("before the loss: Revoked = %v, %v", ok, err)
	}
	if _, err := a.Revoke(bg, "known", hour()); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "B learns of known", func() bool { ok, _ := b.Revoked("known", now()); return ok })

	empty(red)
	for name, r := range map[string]*Revocations{"A": a, "B": b} {
		eventually(t, 10*time.Second, name+" adopts a new epoch", func() bool {
			return r.NotBefore().After(oldNB) && r.Fresh() == nil
		})
	}
	nb := a.NotBefore()
	if !b.NotBefore().Equal(nb) {
		t.Errorf("A and B adopted different epochs: %v, %v", nb, b.NotBefore())
	}
	if !nb.After(issuedBefore) || nb.Nanosecond() != 0 {
		t.Errorf("NotBefore %v: want after %v, whole seconds", nb, issuedBefore)
	}
	c := newRevs(t, client(t, red, red.Addr), opts)
	for name, r := range map[string]*Revocations{"A": a, "B": b, "C (started after)": c} {
		if ok, err := r.Revoked("s1", issuedBefore); !ok || err != nil {
			t.Errorf("%s: a session issued before the loss: Revoked = %v, %v; want true", name, ok, err)
		}
		if ok, err := r.Revoked("s2", nb); ok || err != nil {
			t.Errorf("%s: a session issued after the new epoch: Revoked = %v, %v; want false", name, ok, err)
		}
	}
	for name, r := range map[string]*Revocations{"A": a, "B": b} {
		if ok, _ := r.Revoked("known", nb.Add(time.Hour)); !ok {
			t.Errorf("%s forgot a revocation it knew before the loss", name)
		}
	}
	if first, err := a.Revoke(bg, "after", hour()); !first || err != nil {
		t.Errorf("Revoke under the new epoch = %v, %v", first, err)
	}
	eventually(t, time.Second, "B learns of a revocation under the new epoch", func() bool {
		ok, _ := b.Revoked("after", nb)
		return ok
	})
}

// A revocation with a stale epoch is refused by the script, and the
// instance still refuses the id itself.
func TestRevokeRefusedUnderOldEpoch(t *testing.T) {
	red := testenv.StartRedis(t, testenv.RedisOptions{})
	c := client(t, red, red.Addr)
	a := newRevs(t, c, RevocationsOptions{Block: time.Second})
	if err := c.Set(bg, prefix+"epoch", "another 1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	first, err := a.Revoke(bg, "x", hour())
	if first || err == nil || !strings.Contains(err.Error(), errEpochPrefix) {
		t.Errorf("Revoke under another epoch = %v, %v; want an epoch error", first, err)
	}
	if ok, _ := a.Revoked("x", now()); !ok {
		t.Error("the failed revocation is not refused locally")
	}
	if n, _ := c.ZCard(bg, prefix+"revoked").Result(); n != 0 {
		t.Errorf("the script wrote under another epoch: %d members", n)
	}
}

// Redis killed: after StaleAfter Revoked errs; Redis back (empty): the
// reader recovers without a restart.
func TestStaleThenRecovers(t *testing.T) {
	red := testenv.StartRedis(t, testenv.RedisOptions{})
	const stale = time.Second
	a := newRevs(t, client(t, red, red.Addr), RevocationsOptions{StaleAfter: stale})
	if _, err := a.Revoked("x", now()); err != nil {
		t.Fatal(err)
	}
	if err := red.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	eventually(t, 5*time.Second, "Revoked errs", func() bool {
		_, err := a.Revoked("x", now())
		return errors.Is(err, ErrStale)
	})
	if d := time.Since(killed); d < stale-a.block {
		t.Errorf("stale after %v, before StaleAfter %v", d, stale)
	}
	if _, err := a.Revoke(bg, "during", hour()); err == nil {
		t.Error("Revoke with Redis down succeeded")
	}
	if ok, err := a.Revoked("during", now()); !ok || err != nil {
		t.Errorf("a revocation that failed to be shared: Revoked = %v, %v; want true (local)", ok, err)
	}
	red.Restart(t)
	eventually(t, 10*time.Second, "the view is fresh again", func() bool { return a.Fresh() == nil })
	if ok, err := a.Revoked("y", now()); ok || err != nil {
		t.Errorf("after recovery: Revoked = %v, %v", ok, err)
	}
}

// A revocation whose write failed (A cut off from Redis) is written by
// A's reader once Redis answers again, so the other instances learn of it:
// a retried logout cannot do it (A already refuses the token).
func TestFailedRevokeWrittenLater(t *testing.T) {
	red := testenv.StartRedis(t, testenv.RedisOptions{})
	cut := newCutter(t, red.Addr)
	a := newRevs(t, client(t, red, cut.addr()), RevocationsOptions{})
	b := newRevs(t, client(t, red, red.Addr), RevocationsOptions{})
	cut.setCut(true)
	if _, err := a.Revoke(bg, "failed", hour()); err == nil {
		t.Fatal("Revoke with Redis cut off succeeded")
	}
	if _, err := a.Revoke(bg, "expired", time.Now().Add(50*time.Millisecond)); err == nil {
		t.Fatal("Revoke with Redis cut off succeeded")
	}
	if n := a.Pending(); n != 2 {
		t.Errorf("Pending = %d, want 2", n)
	}
	if ok, _ := b.Revoked("failed", now()); ok {
		t.Fatal("B refuses an id A could not store")
	}
	time.Sleep(60 * time.Millisecond) // "expired" expires
	cut.setCut(false)
	eventually(t, 10*time.Second, "B learns of the failed revocation", func() bool { ok, _ := b.Revoked("failed", now()); return ok })
	eventually(t, time.Second, "nothing pending on A", func() bool { return a.Pending() == 0 })
	if n, err := red.Do("ZCARD", prefix+"revoked"); err != nil || n != int64(1) {
		t.Errorf("ZCARD revoked = %v, %v; want 1 (the expired one dropped)", n, err)
	}
}

// cutter forwards TCP connections to a server until cut: then it drops
// them and refuses new ones, as a network partition of one instance would.
type cutter struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]struct{}
}

func newCutter(t *testing.T, target string) *cutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			if c.cut {
				c.mu.Unlock()
				_ = in.Close()
				continue
			}
			out, err := net.DialTimeout("tcp", target, time.Second)
			if err != nil {
				c.mu.Unlock()
				_ = in.Close()
				continue
			}
			c.conns[in], c.conns[out] = struct{}{}, struct{}{}
			c.mu.Unlock()
			for _, p := range [][2]net.Conn{{in, out}, {out, in}} {
				wg.Go(func() {
					_, _ = io.Copy(p[0], p[1])
					_ = p[0].Close()
					_ = p[1].Close()
				})
			}
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		c.setCut(true)
		wg.Wait()
	})
	return c
}

func (c *cutter) addr() string { return c.ln.Addr().String() }

func (c *cutter) setCut(cut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = cut
	if cut {
		for conn := range c.conns {
			_ = conn.Close()
		}
		clear(c.conns)
	}
}

// B is cut off while A revokes; B goes stale, and when it is reconnected
// it catches up from the stream (no reload when the stream still holds its
// position) or from the set (when the stream was trimmed past it).
func TestCatchUpAfterCutOff(t *testing.T) {
	for _, tc := range []struct {
		name       string
		n          int
		maxLen     int64
		wantReload bool
	}{
		{"from the stream", 20, 0, false},
		{"trimmed: from the set", 600, 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			red := testenv.StartRedis(t, testenv.RedisOptions{})
			opts := RevocationsOptions{StaleAfter: 500 * time.Millisecond, StreamMaxLen: tc.maxLen}
			a := newRevs(t, client(t, red, red.Addr), opts)
			cut := newCutter(t, red.Addr)
			b := newRevs(t, client(t, red, cut.addr()), opts)
			if _, err := a.Revoke(bg, "before", hour()); err != nil {
				t.Fatal(err)
			}
			eventually(t, time.Second, "B sees the first revocation", func() bool { ok, _ := b.Revoked("before", now()); return ok })
			reloads := b.reloads.Load()

			cut.setCut(true)
			for i := range tc.n {
				if _, err := a.Revoke(bg, fmt.Sprint("cut-", i), hour()); err != nil {
					t.Fatal(err)
				}
			}
			eventually(t, 5*time.Second, "B goes stale", func() bool {
				_, err := b.Revoked("cut-0", now())
				return errors.Is(err, ErrStale)
			})
			if tc.wantReload {
				info, err := red.Do("XINFO", "STREAM", prefix+"revocations")
				if err != nil || !strings.Contains(fmt.Sprint(info), "max-deleted-entry-id") {
					t.Fatalf("XINFO = %v, %v", info, err)
				}
			}
			cut.setCut(false)
			eventually(t, 10*time.Second, "B catches up", func() bool { return b.Fresh() == nil && b.Len() == tc.n+1 })
			for i := range tc.n {
				if ok, err := b.Revoked(fmt.Sprint("cut-", i), now()); !ok || err != nil {
					t.Fatalf("B: Revoked(cut-%d) = %v, %v", i, ok, err)
				}
			}
			if got := b.reloads.Load() > reloads; got != tc.wantReload {
				t.Errorf("B reloaded the set: %v, want %v", got, tc.wantReload)
			}
		})
	}
}

// Revocations expire at until: from the set, from the views, and a new
// instance does not load them.
func TestExpiry(t *testing.T) {
	red := testenv.StartRedis(t, testenv.RedisOptions{})
	c := client(t, red, red.Addr)
	opts := RevocationsOptions{PruneEvery: 50 * time.Millisecond, Block: 50 * time.Millisecond}
	a := newRevs(t, c, opts)
	b := newRevs(t, client(t, red, red.Addr), opts)
	until := time.Now().Add(time.Second)
	if _, err := a.Revoke(bg, "short", until); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Revoke(bg, "long", hour()); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "B sees both", func() bool { return b.Len() == 2 })
	eventually(t, 5*time.Second, "short expires everywhere", func() bool {
		n, _ := c.ZCard(bg, prefix+"revoked").Result()
		return a.Len() == 1 && b.Len() == 1 && n == 1
	})
	if time.Now().Before(until) {
		t.Fatal("expired before until")
	}
	for name, r := range map[string]*Revocations{"A": a, "B": b, "new": newRevs(t, c, opts)} {
		if ok, _ := r.Revoked("short", now()); ok {
			t.Errorf("%s: the expired revocation is still there", name)
		}
		if ok, _ := r.Revoked("long", now()); !ok {
			t.Errorf("%s: the live revocation is gone", name)
		}
	}
}

// OnRemote, and the subscriber of store.RevocationFeed (the session
// manager, which closes the session's tunnels), hear of revocations made
// by other instances only.
func TestOnRemote(t *testing.T) {
	for _, feed := range []bool{false, true} {
		t.Run(map[bool]string{false: "OnRemote", true: "Subscribe"}[feed], func(t *testing.T) { testOnRemote(t, feed) })
	}
}

func testOnRemote(t *testing.T, feed bool) {
	red := testenv.StartRedis(t, testenv.RedisOptions{})
	var mu sync.Mutex
	var heard []string
	hear := func(id string) {
		mu.Lock()
		defer mu.Unlock()
		heard = append(heard, id)
	}
	var opts RevocationsOptions
	if !feed {
		opts.OnRemote = hear
	}
	a := newRevs(t, client(t, red, red.Addr), opts)
	if feed {
		var _ store.RevocationFeed = a
		a.Subscribe(hear)
	}
	b := newRevs(t, client(t, red, red.Addr), RevocationsOptions{})
	if _, err := a.Revoke(bg, "mine", hour()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Revoke(bg, "theirs", hour()); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "A hears of theirs", func() bool { mu.Lock(); defer mu.Unlock(); return len(heard) > 0 })
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(heard, []string{"theirs"}) {
		t.Errorf("OnRemote heard %q, want [theirs]", heard)
	}
}

// Close stops the reader: no goroutine is left once the client is closed.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	red := testenv.StartRedis(t, testenv.RedisOptions{})
	base := runtime.NumGoroutine()
	o := red.ClientOptions()
	o.PoolSize = 4
	c := redis.NewClient(o)
	r, err := NewRevocations(bg, c, prefix, RevocationsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Revoke(bg, "x", hour()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r.Close()
	r.Close() // idempotent
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	select {
	case <-r.done:
	default:
		t.Fatal("the reader is still running")
	}
	_ = c.Close()
	eventually(t, 2*time.Second, "goroutines back to "+strconv.Itoa(base), func() bool { return runtime.NumGoroutine() <= base })
}

// The hot path does not allocate, for a revoked id, an unknown one and a
// session issued before the epoch.
func TestRevokedDoesNotAllocate(t *testing.T) {
	red := testenv.StartRedis(t, testenv.RedisOptions{})
	r := newRevs(t, client(t, red, red.Addr), RevocationsOptions{})
	if _, err := r.Revoke(bg, "x", hour()); err != nil {
		t.Fatal(err)
	}
	later, early := now(), time.Unix(0, 0)
	for _, id := range []string{"x", "0123456789abcdef0123456789abcdef"} {
		for _, at := range []time.Time{later, early} {
			if n := testing.AllocsPerRun(1000, func() { _, _ = r.Revoked(id, at) }); n != 0 {
				t.Errorf("Revoked(%q, %v): %v allocations", id, at, n)
			}
		}
	}
}

// Redis memory per revocation (set member and stream entry), reported.
func TestMemoryPerRevocation(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	red := testenv.StartRedis(t, testenv.RedisOptions{})
	c := client(t, red, red.Addr)
	r := newRevs(t, c, RevocationsOptions{})
	used := func() int64 {
		s, err := c.Info(bg, "memory").Result()
		if err != nil {
			t.Fatal(err)
		}
		for l := range strings.SplitSeq(s, "\r\n") {
			if v, ok := strings.CutPrefix(l, "used_memory:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		t.Fatal("no used_memory")
		return 0
	}
	const n = 20000
	before := used()
	pipe := func(i int) {
		if _, err := r.Revoke(bg, fmt.Sprintf("%032x", i), hour()); err != nil {
			t.Error(err)
		}
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				pipe(i)
			}
		})
	}
	wg.Wait()
	total := used() - before
	set, _ := c.MemoryUsage(bg, prefix+"revoked", 0).Result()
	stream, _ := c.MemoryUsage(bg, prefix+"revocations", 0).Result()
	t.Logf("%d revocations (32-hex ids), stream MAXLEN ~%d: used_memory +%d B (%d B each); set %d B (%d B each), stream %d B",
		n, DefaultStreamMaxLen, total, total/n, set, set/n, stream)
}

func BenchmarkRevoked(b *testing.B) {
	red := testenv.StartRedis(b, testenv.RedisOptions{})
	r := newRevs(b, client(b, red, red.Addr), RevocationsOptions{})
	for i := range 1000 {
		if _, err := r.Revoke(bg, strconv.Itoa(i), hour()); err != nil {
			b.Fatal(err)
		}
	}
	issued := now()
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := r.Revoked("0123456789abcdef0123456789abcdef", issued); ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
