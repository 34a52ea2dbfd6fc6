package session

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/store"
	"github.com/gatehouse-dev/gatehouse/store/memstore"
)

// flakyRevocations is the memory store behind a backend that goes down
// when told to.
type flakyRevocations struct {
	*memstore.Revocations
	down atomic.Bool
}

var errDown = errors.New("backend down")

func (f *flakyRevocations) Revoke(ctx context.Context, id string, until time.Time) (bool, error) {
	if f.down.Load() {
		return false, errDown
	}
	return f.Revocations.Revoke(ctx, id, until)
}

func (f *flakyRevocations) Revoked(id string) (bool, error) {
	if f.down.Load() {
		return false, errDown
	}
	return f.Revocations.Revoked(id)
}

var _ store.Revocations = (*flakyRevocations)(nil)

// A failing revocation store fails closed: Revoke reports the error (so
// refresh and logout do not succeed) and tells OnRevoke nothing; a store
// that cannot say whether a token is revoked makes Verify (from the cache
// and not), Refreshable and Revoked refuse it.
func TestRevocationStoreErrorsFailClosed(t *testing.T) {
	_, k, c := newTest(t)
	revs := &flakyRevocations{Revocations: memstore.NewRevocations(c.now)}
	var told []string
	m, err := NewManager(Options{CacheSize: 100, Now: c.now, Revocations: revs, OnRevoke: func(sid string) { told = append(told, sid) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	cached := &Session{Subject: "alice", App: "portal", Provider: "local"}
	cachedTok, _ := m.Issue(k, cached)
	if _, err := m.Verify(k, cachedTok); err != nil {
		t.Fatal(err)
	}
	m.Wait()
	fresh := &Session{Subject: "bob", App: "portal", Provider: "local"}
	freshTok, _ := m.Issue(k, fresh)

	revs.down.Store(true)
	for name, tok := range map[string]string{"cached": cachedTok, "uncached": freshTok} {
		if _, err := m.Verify(k, tok); !errors.Is(err, ErrUnavailable) || !errors.Is(err, errDown) {
			t.Errorf("Verify of the %s token = %v, want ErrUnavailable", name, err)
		}
		if _, err := m.Refreshable(k, tok); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Refreshable of the %s token = %v, want ErrUnavailable", name, err)
		}
	}
	if !m.Revoked(fresh.ID) {
		t.Error("Revoked = false, want true when the store cannot tell")
	}
	first, err := m.Revoke(context.Background(), k, fresh)
	if first || !errors.Is(err, ErrUnavailable) || len(told) != 0 {
		t.Errorf("Revoke = %v, %v, OnRevoke told %q; want false, ErrUnavailable, nothing", first, err, told)
	}

	revs.down.Store(false) // back up: nothing was revoked, the cache still serves
	if _, err := m.Verify(k, cachedTok); err != nil {
		t.Errorf("Verify after the store came back: %v", err)
	}
}

// The cached path stays free of allocations with the store behind an
// interface.
func TestVerify_CacheHitDoesNotAllocate(t *testing.T) {
	m, k, _ := newTest(t)
	tok, _ := m.Issue(k, &Session{Subject: "alice", App: "portal", Provider: "local"})
	if _, err := m.Verify(k, tok); err != nil {
		t.Fatal(err)
	}
	m.Wait()
	if n := testing.AllocsPerRun(100, func() { _, _ = m.Verify(k, tok) }); n != 0 {
		t.Errorf("Verify from the cache: %v allocations, want 0", n)
	}
}
