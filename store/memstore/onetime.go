package memstore

import (
	"container/list"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/store"
)

// OneTimeOptions bound a OneTime.
type OneTimeOptions struct {
	// Max bounds the values remembered; when full, the oldest is
	// forgotten. Required (> 0).
	Max int
	// MaxPerOwner bounds the values remembered for one owner; beyond it,
	// that owner's own oldest is forgotten. Required (> 0).
	MaxPerOwner int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// OneTime is store.OneTime in a table bounded in total and per owner that
// forgets the oldest entries and never refuses a value for being full: a
// flood of made-up values from one owner cannot push out the others', and
// a flood from many owners pushes out the oldest. Expired values are
// forgotten as new ones are used. It is safe for concurrent use.
type OneTime struct {
	max, maxPerOwner int
	now              func() time.Time

	mu      sync.Mutex
	used    map[string]*list.Element // key → element holding *usedValue
	order   *list.List               // *usedValue, in order of use
	byOwner map[string][]*list.Element
}

type usedValue struct {
	key, owner string
	expires    time.Time
}

var _ store.OneTime = (*OneTime)(nil)

// NewOneTime returns an empty OneTime. It panics if a bound is not
// positive.
func NewOneTime(opts OneTimeOptions) *OneTime {
	if opts.Max <= 0 || opts.MaxPerOwner <= 0 {
		panic("memstore: OneTime bounds must be positive")
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &OneTime{
		max: opts.Max, maxPerOwner: opts.MaxPerOwner, now: now,
		used: map[string]*list.Element{}, order: list.New(), byOwner: map[string][]*list.Element{},
	}
}

// Use records key as used by owner for ttl and reports whether it was not
// used yet (or its earlier use has expired). It never fails.
func (o *OneTime) Use(_ context.Context, key, owner string, ttl time.Duration) (fresh bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	for e := o.order.Front(); e != nil; e = o.order.Front() {
		u := e.Value.(*usedValue)
		if now.Before(u.expires) && len(o.used) < o.max {
			break
		}
		o.forget(e)
	}
	if e, seen := o.used[key]; seen {
		if now.Before(e.Value.(*usedValue).expires) {
			return false, nil
		}
		o.forget(e) // expired behind a longer-lived value
	}
	if mine := o.byOwner[owner]; len(mine) >= o.maxPerOwner {
		o.forget(mine[0])
	}
	e := o.order.PushBack(&usedValue{key: key, owner: owner, expires: now.Add(ttl)})
	o.used[key] = e
	o.byOwner[owner] = append(o.byOwner[owner], e)
	return true, nil
}

// Len is the number of values remembered.
func (o *OneTime) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.used)
}

// forget drops a used value from all three indexes. An owner's values are
// used in order, so e is normally the first of its owner's.
func (o *OneTime) forget(e *list.Element) {
	u := e.Value.(*usedValue)
	o.order.Remove(e)
	delete(o.used, u.key)
	mine := o.byOwner[u.owner]
	if i := slices.Index(mine, e); i >= 0 {
		mine = slices.Delete(mine, i, i+1)
	}
	if len(mine) == 0 {
		delete(o.byOwner, u.owner)
	} else {
		o.byOwner[u.owner] = mine
	}
}
