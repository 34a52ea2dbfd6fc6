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

func (f *flakyRevocations) Revoked(id string, issued time.Time) (bool, error) {
	if f.down.Load() {
		return false, errDown
	}
	return f.Revocations.Revoked(id, issued)
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
	m := storeManager(t, c, revs, func(sid string) { told = append(told, sid) })
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
	if !m.Revoked(fresh.ID, fresh.IssuedAt) {
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

// notBeforeRevocations refuses every session issued before notBefore, the
// way a networked store does after it lost its data.
type notBeforeRevocations struct {
	*memstore.Revocations
	notBefore time.Time
}

func (n *notBeforeRevocations) Revoked(id string, issued time.Time) (bool, error) {
	if issued.Before(n.notBefore) {
		return true, nil
	}
	return n.Revocations.Revoked(id, issued)
}

func (n *notBeforeRevocations) NotBefore() time.Time { return n.notBefore }

// Right after a store's epoch began (its NotBefore is the start rounded up
// to the next second), a new session is issued at NotBefore, not in the
// second before it: the token works at once.
func TestIssueNotBeforeEpoch(t *testing.T) {
	_, k, c := newTest(t)
	revs := &notBeforeRevocations{Revocations: memstore.NewRevocations(c.now)}
	m := storeManager(t, c, revs, nil)
	c.add(300 * time.Millisecond)
	revs.notBefore = c.now().Truncate(time.Second).Add(time.Second)
	s := &Session{Subject: "alice", App: "portal", Provider: "local"}
	tok, err := m.Issue(k, s)
	if err != nil {
		t.Fatal(err)
	}
	if !s.IssuedAt.Equal(revs.notBefore) || !s.AuthTime.Equal(revs.notBefore) {
		t.Errorf("IssuedAt %v, AuthTime %v; want the store's NotBefore %v", s.IssuedAt, s.AuthTime, revs.notBefore)
	}
	if _, err := m.Verify(k, tok); err != nil {
		t.Errorf("Verify of a session issued in the epoch's first second: %v", err)
	}
	// A NotBefore far ahead (a clock far off) does not move iat.
	revs.notBefore = c.now().Add(time.Minute)
	far := &Session{Subject: "alice", App: "portal", Provider: "local"}
	if _, err := m.Issue(k, far); err != nil {
		t.Fatal(err)
	}
	if !far.IssuedAt.Equal(c.now().Truncate(time.Second)) {
		t.Errorf("IssuedAt %v with NotBefore a minute ahead; want now", far.IssuedAt)
	}
}

// The Manager hands the store each session's issue time: a store that
// refuses sessions issued before a point refuses them from the cache,
// uncached, for refresh and for tunnels, and accepts later ones.
func TestRevocationStoreSeesIssueTime(t *testing.T) {
	_, k, c := newTest(t)
	revs := &notBeforeRevocations{Revocations: memstore.NewRevocations(c.now)}
	m := storeManager(t, c, revs, nil)
	old := &Session{Subject: "alice", App: "portal", Provider: "local"}
	oldTok, _ := m.Issue(k, old)
	if _, err := m.Verify(k, oldTok); err != nil {
		t.Fatal(err)
	}
	m.Wait()
	c.add(2 * time.Second)
	revs.notBefore = c.now().Truncate(time.Second)
	if _, err := m.Verify(k, oldTok); !errors.Is(err, ErrRevoked) {
		t.Errorf("Verify (cached) of a session issued before = %v, want ErrRevoked", err)
	}
	if _, err := m.Refreshable(k, oldTok); !errors.Is(err, ErrRevoked) {
		t.Errorf("Refreshable of a session issued before = %v, want ErrRevoked", err)
	}
	if !m.Revoked(old.ID, old.IssuedAt) {
		t.Error("Revoked of a session issued before = false")
	}
	next := &Session{Subject: "alice", App: "portal", Provider: "local"}
	nextTok, _ := m.Issue(k, next)
	if _, err := m.Verify(k, nextTok); err != nil {
		t.Errorf("Verify of a session issued after: %v", err)
	}
}

// A session issued before the store's epoch, checked before this instance
// learned of the epoch, is not revoked "first" afterwards: its refresh
// fails instead of succeeding on an emptied store.
func TestRevokeBeforeEpochIsNotFirst(t *testing.T) {
	_, k, c := newTest(t)
	revs := &notBeforeRevocations{Revocations: memstore.NewRevocations(c.now)}
	m := storeManager(t, c, revs, nil)
	s := &Session{Subject: "alice", App: "portal", Provider: "local"}
	if _, err := m.Issue(k, s); err != nil {
		t.Fatal(err)
	}
	revs.notBefore = s.IssuedAt.Add(time.Second) // the epoch begins after s was issued
	if first, err := m.Revoke(context.Background(), k, s); err != nil || first {
		t.Fatalf("Revoke of a pre-epoch session = %v, %v; want false, nil", first, err)
	}
	later := &Session{Subject: "alice", App: "portal", Provider: "local"}
	c.add(2 * time.Second)
	if _, err := m.Issue(k, later); err != nil {
		t.Fatal(err)
	}
	if first, err := m.Revoke(context.Background(), k, later); err != nil || !first {
		t.Fatalf("Revoke of a session issued in the epoch = %v, %v; want true, nil", first, err)
	}
}

// storeManager is a Manager on c's clock over the revocation store revs,
// closed when the test ends.
func storeManager(t *testing.T, c *clock, revs store.Revocations, onRevoke func(string)) *Manager {
	t.Helper()
	m, err := NewManager(Options{CacheSize: 100, Now: c.now, Revocations: revs, OnRevoke: onRevoke})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}
