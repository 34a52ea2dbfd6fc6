package redisstore

import (
	"context"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/settings"
)

// clientSettingsFor returns the settings that reach r as a cluster block would.
func clientSettingsFor(r *testenv.Redis, opts testenv.RedisOptions) *settings.Cluster {
	c := &settings.Cluster{
		Addr: r.Addr, KeyPrefix: "gatehouse:",
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second,
	}
	switch {
	case opts.User != "":
		c.Username, c.Password = opts.User, opts.UserPassword
	case opts.Password != "":
		c.Password = opts.Password
	}
	if opts.TLS {
		c.TLS, c.RootCAs, c.CAFile = true, r.RootCAs, r.CAFile
	}
	return c
}

// clientWaitState polls c until its health is want, within a deadline.
func clientWaitState(t *testing.T, c *Client, want bool, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		up, _, lastErr := c.State()
		if up == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("State up = %v after %s (last error %q), want %v", up, within, lastErr, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestClientOpen(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts testenv.RedisOptions
	}{
		{"plain", testenv.RedisOptions{}},
		{"password", testenv.RedisOptions{Password: "default-secret"}},
		{"acl user", testenv.RedisOptions{User: "gatehouse", UserPassword: "acl-secret"}},
		{"tls", testenv.RedisOptions{TLS: true, User: "gatehouse", UserPassword: "acl-secret"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testenv.StartRedis(t, tc.opts)
			ctx := context.Background()
			c, err := Open(ctx, clientSettingsFor(r, tc.opts), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if up, since, lastErr := c.State(); !up || since.IsZero() || lastErr != "" {
				t.Errorf("State = %v, %v, %q; want up since the PING", up, since, lastErr)
			}
			k := c.Key("test", "a")
			if k != "gatehouse:test:a" || c.Prefix() != "gatehouse:" || c.Key() != "gatehouse:" {
				t.Errorf("Key = %q, Prefix = %q", k, c.Prefix())
			}
			if err := c.Redis().Set(ctx, k, "v", time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			if got, _ := r.Do("GET", k); got != "v" {
				t.Errorf("GET %s = %v, want v", k, got)
			}
		})
	}
}

// A failing Open names the server and never the password.
func TestClientOpen_Errors(t *testing.T) {
	opts := testenv.RedisOptions{User: "gatehouse", UserPassword: "acl-secret"}
	r := testenv.StartRedis(t, opts)
	ctx := context.Background()

	wrong := clientSettingsFor(r, opts)
	wrong.Password = "wrong-secret"
	_, err := Open(ctx, wrong, nil)
	if err == nil || !strings.Contains(err.Error(), r.Addr) || strings.Contains(err.Error(), "secret") {
		t.Errorf("wrong password: err = %v, want one naming %s without the password", err, r.Addr)
	}

	tlsOff := clientSettingsFor(testenv.StartRedis(t, testenv.RedisOptions{TLS: true}), testenv.RedisOptions{})
	if _, err := Open(ctx, tlsOff, nil); err == nil {
		t.Error("plain client to a TLS server: Open succeeded")
	}

	gone := clientSettingsFor(r, opts)
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Open(ctx, gone, nil)
	if err == nil || !strings.Contains(err.Error(), r.Addr) || strings.Contains(err.Error(), "secret") {
		t.Errorf("stopped server: err = %v, want one naming %s without the password", err, r.Addr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Open took %s against a closed port", d)
	}
}

// The background pinger notices a server going away and coming back,
// without a new client.
func TestClientState_FollowsServer(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	c, err := Open(context.Background(), clientSettingsFor(r, testenv.RedisOptions{}), log)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := r.Kill(); err != nil {
		t.Fatal(err)
	}
	clientWaitState(t, c, false, 5*time.Second)
	if _, _, lastErr := c.State(); !strings.Contains(lastErr, r.Addr) {
		t.Errorf("lastErr %q does not name %s", lastErr, r.Addr)
	}
	r.Restart(t)
	clientWaitState(t, c, true, 10*time.Second)
	c.Close()
	out := logs.String()
	for _, want := range []string{"cluster redis down", "cluster redis up"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// Close ends the pinger before it returns, also while a check waits on a
// server that does not answer, and leaks no goroutine.
func TestClientClose_NoLeak(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	before := runtime.NumGoroutine()
	for range 5 {
		c, err := Open(context.Background(), clientSettingsFor(r, testenv.RedisOptions{}), nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		select {
		case <-c.done:
		default:
			t.Fatal("Close returned before the pinger ended")
		}
		c.Close() // idempotent
	}
	// A client to a server that is gone, closed mid-backoff.
	cfg := clientSettingsFor(r, testenv.RedisOptions{})
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // let the pinger fail once
	start := time.Now()
	c.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %s", d)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestClientOpen_Sentinel(t *testing.T) {
	master := testenv.StartRedis(t, testenv.RedisOptions{})
	s := testenv.StartSentinels(t, master, 1)
	cfg := &settings.Cluster{
		SentinelMaster: s.Master, SentinelAddrs: s.Addrs, KeyPrefix: "gh:",
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second,
	}
	c, err := Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !strings.HasPrefix(c.Server(), "sentinel master "+s.Master+" via ") {
		t.Errorf("Server() = %q", c.Server())
	}
	ctx := context.Background()
	if err := c.Redis().Set(ctx, c.Key("x"), "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if got, _ := master.Do("GET", "gh:x"); got != "1" {
		t.Errorf("the master has gh:x = %v, want 1", got)
	}
}

func TestClientBackoff(t *testing.T) {
	for n := 1; n < 40; n++ {
		d := min(maxBackoff, minBackoff<<min(n-1, 15))
		for range 50 {
			if got := backoff(n); got < d/2 || got >= d {
				t.Fatalf("backoff(%d) = %s, want in [%s, %s)", n, got, d/2, d)
			}
		}
	}
	if backoff(100) >= maxBackoff {
		t.Error("backoff is not capped")
	}
}

// Errors counts failed commands, not missing keys.
func TestClientErrors(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	c, err := Open(context.Background(), clientSettingsFor(r, testenv.RedisOptions{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Redis().Get(ctx, c.Key("missing")).Err(); err == nil {
		t.Fatal("GET of a missing key: no redis.Nil")
	}
	if n := c.Errors(); n != 0 {
		t.Errorf("Errors = %d after a missing key, want 0", n)
	}
	if err := r.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := c.Redis().Set(ctx, c.Key("k"), "v", time.Minute).Err(); err == nil {
		t.Fatal("SET with the server down succeeded")
	}
	if n := c.Errors(); n == 0 {
		t.Error("Errors = 0 after a failed SET")
	}
}
