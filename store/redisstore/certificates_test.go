package redisstore

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/acme/autocert"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// syncBuffer is a log buffer the tests' goroutines and the stores' may
// write concurrently.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newCerts(t *testing.T, rdb redis.UniversalClient, opts CertificatesOptions) *Certificates {
	t.Helper()
	c, err := NewCertificates(rdb, "gh:", opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCertificates_GetPutDelete(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	c := newCerts(t, newClient(t, r), CertificatesOptions{})
	ctx := context.Background()
	if _, err := c.Get(ctx, "example.com"); !errors.Is(err, autocert.ErrCacheMiss) {
		t.Fatalf("Get of a missing name = %v, want autocert.ErrCacheMiss", err)
	}
	if err := c.Put(ctx, "example.com", []byte("pem")); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, "example.com")
	if err != nil || string(got) != "pem" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if v, err := r.Do("GET", "gh:cert:example.com"); err != nil || v != "pem" {
		t.Fatalf("raw key gh:cert:example.com = %v, %v", v, err)
	}
	if err := c.Delete(ctx, "example.com"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "example.com"); err != nil {
		t.Fatalf("Delete of a missing name: %v", err)
	}
	if _, err := c.Get(ctx, "example.com"); !errors.Is(err, autocert.ErrCacheMiss) {
		t.Fatalf("Get after Delete = %v", err)
	}
	// Redis down: an error, never a miss.
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "example.com"); err == nil || errors.Is(err, autocert.ErrCacheMiss) {
		t.Fatalf("Get with Redis down = %v, want an error that is not a miss", err)
	}
	if err := c.Put(ctx, "example.com", []byte("x")); err == nil {
		t.Fatal("Put with Redis down succeeded")
	}
}

func TestCertificates_Encryption(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	rdb := newClient(t, r)
	ctx := context.Background()
	secret := []byte("a config secret of enough length")
	c := newCerts(t, rdb, CertificatesOptions{EncryptionSecret: secret})
	plain := []byte("-----BEGIN EC PRIVATE KEY-----\nsecret key\n")
	if err := c.Put(ctx, "example.com", plain); err != nil {
		t.Fatal(err)
	}
	raw, err := rdb.Get(ctx, "gh:cert:example.com").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("secret key")) || !bytes.HasPrefix(raw, []byte(sealedMagic)) {
		t.Fatalf("stored value is not encrypted: %q", raw)
	}
	got, err := c.Get(ctx, "example.com")
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("round trip: %q, %v", got, err)
	}
	// Another instance with the same secret reads it.
	if got, err := newCerts(t, rdb, CertificatesOptions{EncryptionSecret: secret}).Get(ctx, "example.com"); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("second instance: %q, %v", got, err)
	}
	refused := func(what string) {
		t.Helper()
		if _, err := c.Get(ctx, "example.com"); err == nil || errors.Is(err, autocert.ErrCacheMiss) {
			t.Fatalf("%s: Get = %v, want an error that is not a miss", what, err)
		}
	}
	// A flipped bit.
	tampered := bytes.Clone(raw)
	tampered[len(tampered)-1] ^= 1
	rdb.Set(ctx, "gh:cert:example.com", tampered, 0)
	refused("tampered value")
	// A value sealed for another key.
	if err := c.Put(ctx, "other.com", plain); err != nil {
		t.Fatal(err)
	}
	moved, _ := rdb.Get(ctx, "gh:cert:other.com").Bytes()
	rdb.Set(ctx, "gh:cert:example.com", moved, 0)
	refused("value moved from another key")
	// Plain text where ciphertext is expected.
	rdb.Set(ctx, "gh:cert:example.com", plain, 0)
	refused("unencrypted value")
	// Another secret.
	if err := c.Put(ctx, "example.com", plain); err != nil {
		t.Fatal(err)
	}
	if _, err := newCerts(t, rdb, CertificatesOptions{EncryptionSecret: []byte("another secret")}).Get(ctx, "example.com"); err == nil {
		t.Fatal("a value opened with another secret")
	}
}

func TestLock_Exclusive(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	// Two clients, as two instances.
	a := newCerts(t, newClient(t, r), CertificatesOptions{LockTTL: 300 * time.Millisecond})
	b := newCerts(t, newClient(t, r), CertificatesOptions{LockTTL: 300 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var inside, maxInside, total atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		l := a
		if i%2 == 1 {
			l = b
		}
		wg.Go(func() {
			for range 5 {
				unlock, lost, err := l.Lock(ctx, "example.com")
				if err != nil {
					t.Error(err)
					return
				}
				n := inside.Add(1)
				if n > maxInside.Load() {
					maxInside.Store(n)
				}
				time.Sleep(2 * time.Millisecond)
				inside.Add(-1)
				total.Add(1)
				select {
				case <-lost:
					t.Error("lock lost")
				default:
				}
				unlock()
			}
		})
	}
	wg.Wait()
	if maxInside.Load() != 1 || total.Load() != 40 {
		t.Fatalf("holders at once: max %d (want 1); sections %d (want 40)", maxInside.Load(), total.Load())
	}
	// Unlocked: no key left.
	if n, _ := r.Do("EXISTS", "gh:lock:example.com"); n != int64(0) {
		t.Fatalf("lock key left after unlock: EXISTS = %v", n)
	}
	// A waiter gives up at its deadline.
	unlock, _, err := a.Lock(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	start := time.Now()
	if _, _, err := b.Lock(short, "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock on a held name = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("waiter gave up after %v", d)
	}
}

func TestLock_RefreshKeepsItPastTTL(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	ttl := 150 * time.Millisecond
	a := newCerts(t, newClient(t, r), CertificatesOptions{LockTTL: ttl})
	b := newCerts(t, newClient(t, r), CertificatesOptions{LockTTL: ttl})
	ctx := context.Background()
	unlock, lost, err := a.Lock(ctx, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	// Held for 5 TTLs: b cannot take it, and it is not lost.
	short, cancel := context.WithTimeout(ctx, 5*ttl)
	defer cancel()
	if _, _, err := b.Lock(short, "example.com"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("b took a held, refreshed lock: %v", err)
	}
	select {
	case <-lost:
		t.Fatal("refreshed lock reported lost")
	default:
	}
	pttl, _ := r.Do("PTTL", "gh:lock:example.com")
	if ms, _ := pttl.(int64); ms <= 0 || ms > ttl.Milliseconds() {
		t.Fatalf("PTTL of the held lock = %v", pttl)
	}
	unlock()
	// Released: b gets it at once.
	quick, cancelQuick := context.WithTimeout(ctx, time.Second)
	defer cancelQuick()
	u2, _, err := b.Lock(quick, "example.com")
	if err != nil {
		t.Fatalf("b after release: %v", err)
	}
	u2()
}

func TestLock_LossIsNoticed(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	ttl := 150 * time.Millisecond
	logs := &syncBuffer{}
	a := newCerts(t, newClient(t, r), CertificatesOptions{LockTTL: ttl, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	ctx := context.Background()

	waitLost := func(lost <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-lost:
		case <-time.After(10 * ttl):
			t.Fatalf("%s: lost not closed", what)
		}
	}

	// Deleted behind the holder.
	unlock, lost, err := a.Lock(ctx, "deleted")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Do("DEL", "gh:lock:deleted"); err != nil {
		t.Fatal(err)
	}
	waitLost(lost, "deleted key")
	unlock()

	// Taken over by another token: unlock must not delete the other's key.
	unlock, lost, err = a.Lock(ctx, "changed")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Do("SET", "gh:lock:changed", "someone-else", "PX", 60000); err != nil {
		t.Fatal(err)
	}
	waitLost(lost, "changed key")
	unlock()
	if v, _ := r.Do("GET", "gh:lock:changed"); v != "someone-else" {
		t.Fatalf("unlock of a lost lock deleted another holder's key: %v", v)
	}

	// Redis gone: refreshes fail until the TTL has passed.
	unlock, lost, err = a.Lock(ctx, "unreachable")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	waitLost(lost, "Redis stopped")
	unlock()

	out := logs.String()
	for _, want := range []string{
		"its key is gone or held by another instance",
		"lock refresh failed",
		"not refreshed within its TTL",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}
