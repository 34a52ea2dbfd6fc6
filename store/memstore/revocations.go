package memstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/store"
)

// pruneEvery is how many revocations are recorded between two sweeps of
// the expired ones.
const pruneEvery = 1024

// Revocations is store.Revocations in a sync.Map: reads take no lock and
// do not allocate. Every pruneEvery-th revocation sweeps out those whose
// until has passed. It is safe for concurrent use.
type Revocations struct {
	ids sync.Map // id -> time.Time until which the revocation matters
	n   atomic.Int64
	now func() time.Time
}

var _ store.Revocations = (*Revocations)(nil)

// NewRevocations returns an empty set; now is its clock for pruning (nil
// means time.Now).
func NewRevocations(now func() time.Time) *Revocations {
	if now == nil {
		now = time.Now
	}
	return &Revocations{now: now}
}

// Revoke records id until until; first is false when it was already
// recorded. It never fails.
func (r *Revocations) Revoke(_ context.Context, id string, until time.Time) (first bool, err error) {
	if _, loaded := r.ids.LoadOrStore(id, until); loaded {
		return false, nil
	}
	if n := r.n.Add(1); n%pruneEvery == 0 {
		r.prune()
	}
	return true, nil
}

// Revoked reports whether id is recorded (and not yet pruned); issued is
// not looked at. It never fails.
func (r *Revocations) Revoked(id string, _ time.Time) (bool, error) {
	_, ok := r.ids.Load(id)
	return ok, nil
}

// Len is the number of revocations held.
func (r *Revocations) Len() int { return int(r.n.Load()) }

// Prune forgets the revocations whose until has passed (Revoke also does
// it every pruneEvery-th time); a backend using this as its local view
// calls it now and then, so that entries expire without new revocations.
func (r *Revocations) Prune() { r.prune() }

// prune forgets revocations of tokens that can no longer be used anyway.
func (r *Revocations) prune() {
	now := r.now()
	r.ids.Range(func(k, v any) bool {
		if now.After(v.(time.Time)) {
			r.ids.Delete(k)
			r.n.Add(-1)
		}
		return true
	})
}
