package redisstore

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// newClient is a go-redis client of srv for one test, with a pool for
// concurrent callers.
func newClient(t *testing.T, srv *testenv.Redis) *redis.Client {
	t.Helper()
	o := srv.ClientOptions()
	o.PoolSize = 8
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Two instances (two clients, two OneTime) racing to use the same values:
// each value is fresh for exactly one caller.
func TestOneTime_SingleUseAcrossInstances(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	a := NewOneTime(newClient(t, srv), "gh:")
	b := NewOneTime(newClient(t, srv), "gh:")
	ctx := context.Background()
	const values, callers = 20, 8
	var fresh [values]atomic.Int32
	var wg sync.WaitGroup
	for c := range callers {
		o := a
		if c%2 == 1 {
			o = b
		}
		wg.Go(func() {
			for v := range values {
				ok, err := o.Use(ctx, "state-"+string(rune('a'+v)), "192.0.2.0/24", time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					fresh[v].Add(1)
				}
			}
		})
	}
	wg.Wait()
	for v := range values {
		if n := fresh[v].Load(); n != 1 {
			t.Errorf("value %d fresh for %d callers, want 1", v, n)
		}
	}
}

// A used value is fresh again once its ttl has passed (Redis expires it),
// and what Redis holds is a hash under the prefix, never the value.
func TestOneTime_ExpiresAndHashes(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	o := NewOneTime(newClient(t, srv), "gh:")
	ctx := context.Background()
	const state = "the-state-value"
	if ok, err := o.Use(ctx, state, "", 300*time.Millisecond); !ok || err != nil {
		t.Fatalf("first use: %v %v", ok, err)
	}
	if ok, err := o.Use(ctx, state, "", 300*time.Millisecond); ok || err != nil {
		t.Fatalf("second use: %v %v", ok, err)
	}
	keys, err := srv.Do("KEYS", "*")
	if err != nil {
		t.Fatal(err)
	}
	ks := keys.([]any)
	if len(ks) != 1 || !strings.HasPrefix(ks[0].(string), "gh:once:") || strings.Contains(ks[0].(string), state) || len(ks[0].(string)) != len("gh:once:")+43 {
		t.Fatalf("keys %v", ks)
	}
	if pttl, err := srv.Do("PTTL", ks[0]); err != nil || pttl.(int64) <= 0 || pttl.(int64) > 300 {
		t.Fatalf("PTTL %v %v", pttl, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, err := o.Use(ctx, state, "", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the value did not expire")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A sub-millisecond ttl is rounded up, not down to "no expiry".
	if ok, err := o.Use(ctx, "short", "", 1500*time.Microsecond); !ok || err != nil {
		t.Fatalf("short ttl: %v %v", ok, err)
	}
	// Empty and overlong values are never fresh and cost no key.
	for _, v := range []string{"", strings.Repeat("x", MaxOneTimeKey+1)} {
		if ok, err := o.Use(ctx, v, "", time.Minute); ok || err != nil {
			t.Errorf("Use(%d bytes) = %v, %v", len(v), ok, err)
		}
	}
	if n, err := srv.Do("DBSIZE"); err != nil || n.(int64) > 2 {
		t.Errorf("DBSIZE %v %v", n, err)
	}
}

// With Redis down, Use returns an error (the caller refuses the callback).
func TestOneTime_ErrorWhenDown(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	o := NewOneTime(newClient(t, srv), "gh:")
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ok, err := o.Use(ctx, "s", "", time.Minute); err == nil || ok {
		t.Fatalf("Use with Redis down: %v, %v", ok, err)
	}
}
