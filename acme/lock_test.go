package acme

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"golang.org/x/crypto/acme/autocert"

	"github.com/gatehouse-dev/gatehouse/store/memstore"
)

// failingStore is a store.Certificates whose backend is unreachable.
type failingStore struct{}

func (failingStore) Get(context.Context, string) ([]byte, error) { return nil, errors.New("down") }
func (failingStore) Put(context.Context, string, []byte) error   { return errors.New("down") }
func (failingStore) Delete(context.Context, string) error        { return errors.New("down") }

// TestLockingCache_AccountKeyNeverLocks: autocert reads the account key,
// and on a miss its legacy name, before its first order; neither read is
// a certificate's, so neither takes a lock (a held lock on the legacy
// name kept other instances from getting the account).
func TestLockingCache_AccountKeyNeverLocks(t *testing.T) {
	ctx := context.Background()
	locker := memstore.NewLocker()
	is := newIssuance(locker, "dir", slog.New(slog.DiscardHandler))
	c := &lockingCache{Certificates: memstore.NewCertificates(), is: is, now: time.Now}
	for _, key := range []string{"acme_account+key", "acme_account.key", "a.example.test+token", "tok+http-01"} {
		if _, err := c.Get(ctx, key); !errors.Is(err, autocert.ErrCacheMiss) {
			t.Fatalf("Get(%s) = %v, want a miss", key, err)
		}
		if is.current(key) != nil {
			t.Errorf("Get(%s) took a lock", key)
		}
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		unlock, _, err := locker.Lock(short, "dir/"+key)
		cancel()
		if err != nil {
			t.Fatalf("%s is locked after a read: %v", key, err)
		}
		unlock()
	}
}

func TestLockingCache_Renewal(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	const name = "r.example.test"
	dueC, dueK := testCert(t, []string{name}, now.Add(-2*time.Hour), now.Add(10*time.Minute))
	due := append(dueK, dueC...)
	freshC, freshK := testCert(t, []string{name}, now.Add(-time.Minute), now.Add(3*time.Hour))
	fresh := append(freshK, freshC...)

	certs := memstore.NewCertificates()
	locker := memstore.NewLocker()
	is := newIssuance(locker, "dir", slog.New(slog.DiscardHandler))
	c := &lockingCache{Certificates: certs, is: is, now: time.Now}
	mustPut := func(data []byte) {
		t.Helper()
		if err := certs.Put(ctx, name, data); err != nil {
			t.Fatal(err)
		}
	}
	lockedElsewhere := func() bool {
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		unlock, _, err := locker.Lock(short, "dir/"+name)
		if err != nil {
			return true
		}
		unlock()
		return false
	}

	// Not due: passed through, no lock.
	mustPut(fresh)
	if data, err := c.Get(ctx, name); err != nil || string(data) != string(fresh) || is.renewing(name) {
		t.Fatalf("fresh certificate: %v, renewing %v", err, is.renewing(name))
	}

	// Due while another instance renews: the read waits for its lock and
	// returns what it stored.
	mustPut(due)
	unlock, _, err := locker.Lock(ctx, "dir/"+name)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		data, err := c.Get(ctx, name)
		if err != nil {
			t.Error(err)
		}
		got <- data
	}()
	select {
	case <-got:
		t.Fatal("renewal read did not wait for the lock")
	case <-time.After(50 * time.Millisecond):
	}
	mustPut(fresh)
	unlock()
	if data := <-got; string(data) != string(fresh) {
		t.Fatal("renewal read did not return the certificate renewed meanwhile")
	}
	if is.renewing(name) || lockedElsewhere() {
		t.Fatal("lock kept after adopting a renewed certificate")
	}

	// Due and nobody renewed: a miss (autocert orders now), the lock held
	// until the new certificate is stored.
	mustPut(due)
	if _, err := c.Get(ctx, name); !errors.Is(err, autocert.ErrCacheMiss) {
		t.Fatalf("due certificate: %v, want a miss", err)
	}
	if !is.renewing(name) || !lockedElsewhere() {
		t.Fatal("renewal does not hold the lock")
	}
	// autocert's own reads during its renewal go through.
	if data, err := c.Get(ctx, name); err != nil || string(data) != string(due) {
		t.Fatalf("read during our renewal: %v", err)
	}
	if err := c.Put(ctx, name, fresh); err != nil {
		t.Fatal(err)
	}
	if is.renewing(name) || lockedElsewhere() {
		t.Fatal("lock kept after the renewed certificate was stored")
	}

	// Store unreachable: the read returns only when autocert's context
	// ends, so its order cannot start.
	down := &lockingCache{Certificates: failingStore{}, is: is, now: time.Now}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := down.Get(short, name); err == nil || errors.Is(err, autocert.ErrCacheMiss) {
		t.Fatalf("unreachable store: %v, want an error", err)
	}
	if short.Err() == nil || time.Since(start) < 90*time.Millisecond {
		t.Fatal("unreachable store: returned before autocert's context ended")
	}
	// Other keys (tokens, account) are never held up.
	if _, err := down.Get(ctx, name+"+token"); err == nil {
		t.Fatal("token read from an unreachable store succeeded")
	}
}

func TestUsable(t *testing.T) {
	now := time.Now()
	c, k := testCert(t, []string{"u.example.test"}, now.Add(-time.Hour), now.Add(time.Hour))
	data := append(k, c...)
	if !usable(data, "u.example.test", now) {
		t.Error("a valid certificate is not usable")
	}
	if usable(data, "other.example.test", now) || usable(data, "u.example.test", now.Add(2*time.Hour)) || usable(c, "u.example.test", now) {
		t.Error("usable: wrong name, expired or keyless accepted")
	}
}
