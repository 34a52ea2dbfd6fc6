package proxy

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/settings"
	"github.com/gatehouse-dev/gatehouse/store"
	"github.com/gatehouse-dev/gatehouse/store/memstore"
	"github.com/gatehouse-dev/gatehouse/store/redisstore"
)

// countingRates counts the Take calls that reach a real store.
type countingRates struct {
	store.RateLimits
	takes atomic.Int64
}

func (c *countingRates) Take(ctx context.Context, ls []store.Limit) (store.Taken, error) {
	c.takes.Add(1)
	return c.RateLimits.Take(ctx, ls)
}

// stepClock is a clock that moves only when told.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *stepClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newRateProxy serves spec with rate budgets in rl and the given options.
func newRateProxy(t *testing.T, spec policy.Spec, opts Options) *testProxy {
	t.Helper()
	snap, err := policy.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	buf := &syncBuffer{}
	opts.Logger, opts.AccessLog = slog.New(slog.NewJSONHandler(buf, nil)), buf
	srv := New(opts)
	srv.Load(snap, nil)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return &testProxy{Server: ts, srv: srv, log: buf}
}

func rateSpec(n int, period time.Duration, burst int) *policy.RateLimitSpec {
	return &policy.RateLimitSpec{Requests: n, Period: period, Burst: burst}
}

// A request over its limit is a 429 rate_limited with Retry-After and the
// draft's fields, and never reaches the upstream; allowed ones carry the
// fields too, and a unit comes back after Period/Requests.
func TestRateLimit_429(t *testing.T) {
	up := newUpstream(t, nil)
	spec := testSpec(t, up.URL)
	spec.Apps[0].RateLimit = rateSpec(2, 10*time.Second, 2) // one back every 5s
	clk := &stepClock{t: time.Unix(1_000_000, 0)}
	var refused atomic.Int64
	p := newRateProxy(t, spec, Options{
		Stores:         store.Set{RateLimits: memstore.NewBudgets(100, clk.now)},
		RateLimitHooks: RateLimitHooks{Refused: func(kind string) { refused.Add(1); _ = kind }},
	})
	key := map[string]string{"X-API-Key": testKey}
	steps := []struct {
		advance               time.Duration
		status                int
		rateLimit, retryAfter string
	}{
		{0, 200, `"app";r=1;t=5`, ""},
		{0, 200, `"app";r=0;t=10`, ""},
		{0, 429, `"app";r=0;t=5`, "5"},
		{4 * time.Second, 429, `"app";r=0;t=1`, "1"},
		{999 * time.Millisecond, 429, `"app";r=0;t=1`, "1"}, // 1ms: rounded up
		{time.Millisecond, 200, `"app";r=0;t=10`, ""},
	}
	for i, s := range steps {
		clk.add(s.advance)
		before := len(up.requests())
		res, _ := p.get(t, "/hr/employees/1", key)
		if res.StatusCode != s.status {
			t.Fatalf("step %d: status %d, want %d", i, res.StatusCode, s.status)
		}
		if got := res.Header.Get("RateLimit"); got != s.rateLimit {
			t.Errorf("step %d: RateLimit %q, want %q", i, got, s.rateLimit)
		}
		if got := res.Header.Get("RateLimit-Policy"); got != `"app";q=2;w=10` {
			t.Errorf("step %d: RateLimit-Policy %q", i, got)
		}
		if got := res.Header.Get("Retry-After"); got != s.retryAfter {
			t.Errorf("step %d: Retry-After %q, want %q", i, got, s.retryAfter)
		}
		reached := len(up.requests()) - before
		if (s.status == 200) != (reached == 1) {
			t.Errorf("step %d: %d requests reached the upstream", i, reached)
		}
	}
	if refused.Load() != 3 {
		t.Errorf("Refused hook called %d times, want 3", refused.Load())
	}
	var reasons []string
	for _, r := range p.log.records(t) {
		if r["status"] == float64(429) {
			reasons = append(reasons, r["reason"].(string))
		}
	}
	if strings.Join(reasons, ",") != "rate_limited,rate_limited,rate_limited" {
		t.Errorf("429 access records' reasons: %v", reasons)
	}
}

// Every limit that applies is taken together: the tightest refuses, a
// refusal spends nothing of the others, and budgets are per limit, app and
// caller (client address prefix without a user).
func TestRateLimit_SeveralLimitsAndKeys(t *testing.T) {
	up := newUpstream(t, nil)
	spec := testSpec(t, up.URL)
	spec.Server.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	spec.Apps[0].RateLimit = rateSpec(3, time.Hour, 3)
	spec.Roles[0].Grants[0].RateLimit = rateSpec(1, time.Hour, 1) // reader's /employees
	clk := &stepClock{t: time.Unix(1_000_000, 0)}
	p := newRateProxy(t, spec, Options{Stores: store.Set{RateLimits: memstore.NewBudgets(100, clk.now)}})
	from := func(addr string) map[string]string {
		return map[string]string{"X-API-Key": testKey, "X-Forwarded-For": addr}
	}
	for i, s := range []struct {
		path, addr string
		status     int
		rateLimit  string
	}{
		{"/hr/employees", "192.0.2.1", 200, `"grant";r=0;t=3600`},
		{"/hr/employees", "192.0.2.1", 429, `"grant";r=0;t=3600`}, // the grant's; the app's untouched
		{"/hr/employees/7", "192.0.2.1", 429, `"grant";r=0;t=3600`},
		{"/hr/employees", "192.0.2.2", 200, `"grant";r=0;t=3600`}, // another client
		{"/hr/employees", "2001:db8::1", 200, `"grant";r=0;t=3600`},
		{"/hr/employees", "2001:db8::2", 429, `"grant";r=0;t=3600`}, // same /64
	} {
		res, _ := p.get(t, s.path, from(s.addr))
		if res.StatusCode != s.status || res.Header.Get("RateLimit") != s.rateLimit {
			t.Errorf("step %d: %d %q, want %d %q", i, res.StatusCode, res.Header.Get("RateLimit"), s.status, s.rateLimit)
		}
		if i == 0 {
			if got := res.Header.Get("RateLimit-Policy"); got != `"grant";q=1;w=3600, "app";q=3;w=3600` {
				t.Errorf("RateLimit-Policy %q", got)
			}
		}
	}
}

// A request no limit applies to makes no store call: neither in a
// configuration without rate_limit blocks nor on a grant, role and app
// without one when others have one.
func TestRateLimit_NoLimitNoStoreCall(t *testing.T) {
	up := newUpstream(t, nil)
	for name, limited := range map[string]bool{"no rate_limit at all": false, "only the manager role has one": true} {
		t.Run(name, func(t *testing.T) {
			spec := testSpec(t, up.URL)
			if limited {
				spec.Roles[1].RateLimit = rateSpec(1, time.Hour, 1)
			}
			rl := &countingRates{RateLimits: memstore.NewBudgets(100, nil)}
			p := newRateProxy(t, spec, Options{Stores: store.Set{RateLimits: rl}})
			for range 3 {
				res, _ := p.get(t, "/hr/employees/1", map[string]string{"X-API-Key": testKey})
				if res.StatusCode != 200 || res.Header.Get("RateLimit") != "" {
					t.Fatalf("status %d, RateLimit %q", res.StatusCode, res.Header.Get("RateLimit"))
				}
			}
			if n := rl.takes.Load(); n != 0 {
				t.Errorf("%d store calls", n)
			}
			if limited {
				res, _ := p.get(t, "/hr/x", map[string]string{"X-API-Key": testAdminKey}) // backoffice: manager
				if res.StatusCode != 200 || rl.takes.Load() != 1 {
					t.Errorf("the manager's request: %d, %d store calls", res.StatusCode, rl.takes.Load())
				}
			}
		})
	}
}

// With Redis gone, rate limits fail open by default (one warning for many
// requests, the hook told each time) and, when configured, closed (503
// store_unavailable, nothing reaches the upstream).
func TestRateLimit_RedisDown(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	o := srv.ClientOptions()
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.MaxRetries = 200*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond, -1
	rdb := redis.NewClient(o)
	t.Cleanup(func() { _ = rdb.Close() })
	budgets := redisstore.NewBudgets(rdb, "gh:")
	up := newUpstream(t, nil)
	spec := testSpec(t, up.URL)
	spec.Apps[0].RateLimit = rateSpec(100, time.Minute, 100)
	key := map[string]string{"X-API-Key": testKey}
	var openErrs, closedErrs atomic.Int64
	hooks := RateLimitHooks{StoreError: func(open bool) {
		if open {
			openErrs.Add(1)
		} else {
			closedErrs.Add(1)
		}
	}}
	open := newRateProxy(t, spec, Options{Stores: store.Set{RateLimits: budgets}, RateLimitHooks: hooks})
	closed := newRateProxy(t, spec, Options{Stores: store.Set{RateLimits: budgets}, RateLimitHooks: hooks, RateLimitsOnError: settings.LimitsClosed})
	if res, _ := open.get(t, "/hr/employees/1", key); res.StatusCode != 200 || res.Header.Get("RateLimit") != `"app";r=99;t=1` {
		t.Fatalf("with Redis up: %d %q", res.StatusCode, res.Header.Get("RateLimit"))
	}
	// The budget's key, as docs/operations.md describes it.
	if n, err := srv.Do("EXISTS", "gh:budget:rl:app:portal|portal|a:127.0.0.1/32"); err != nil || n != int64(1) {
		t.Errorf("the budget's key: EXISTS %v, %v", n, err)
	}
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if res, _ := open.get(t, "/hr/employees/1", key); res.StatusCode != 200 || res.Header.Get("RateLimit") != "" {
			t.Errorf("open, Redis down: %d, RateLimit %q", res.StatusCode, res.Header.Get("RateLimit"))
		}
	}
	if n := strings.Count(open.log.String(), "rate limits unavailable"); n != 1 {
		t.Errorf("%d warnings for 3 requests, want 1:\n%s", n, open.log.String())
	}
	before := len(up.requests())
	res, _ := closed.get(t, "/hr/employees/1", key)
	if res.StatusCode != http.StatusServiceUnavailable || len(up.requests()) != before {
		t.Errorf("closed, Redis down: %d, upstream reached %d times", res.StatusCode, len(up.requests())-before)
	}
	if recs := closed.log.records(t); len(recs) != 1 || recs[0]["reason"] != "store_unavailable" {
		t.Errorf("closed access records: %v", recs)
	}
	if openErrs.Load() != 3 || closedErrs.Load() != 1 {
		t.Errorf("StoreError hook: %d open, %d closed; want 3, 1", openErrs.Load(), closedErrs.Load())
	}
}
