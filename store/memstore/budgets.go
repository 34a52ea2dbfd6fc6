package memstore

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/gatehouse-dev/gatehouse/store"
)

// Budgets is store.Budgets (and store.RateLimits) in least-recently-used tables, one per rate
// (Every and Burst): each table holds at most Size entries and, when
// full, forgets the least recently used one (hashicorp/golang-lru), so a
// flood of distinct keys pushes out the oldest, idle entries and never
// stops a fresh key from being counted. Looking a budget up, in Spent or
// Spend, marks it recently used. It is safe for concurrent use.
type Budgets struct {
	size int
	now  func() time.Time

	mu     sync.Mutex
	tables map[rate]*simplelru.LRU[string, budget]
}

// rate is what a table's budgets have in common.
type rate struct {
	every time.Duration
	burst int
}

// budget is one GCRA bucket: the time (Unix nanoseconds) at which it would
// be full again. A bucket of burst b and interval e is spent when that time
// is more than (b-1)*e ahead of now; a use pushes it e further.
type budget int64

var (
	_ store.Budgets    = (*Budgets)(nil)
	_ store.RateLimits = (*Budgets)(nil)
)

// NewBudgets returns Budgets whose tables hold at most size entries each;
// now is the clock (nil means time.Now). It panics if size is not
// positive.
func NewBudgets(size int, now func() time.Time) *Budgets {
	if size <= 0 {
		panic("memstore: Budgets size must be positive")
	}
	if now == nil {
		now = time.Now
	}
	return &Budgets{size: size, now: now, tables: map[rate]*simplelru.LRU[string, budget]{}}
}

// Spent reports whether any of limits is spent, looking at them in order.
// It never fails.
func (b *Budgets) Spent(_ context.Context, limits ...store.Limit) (bool, error) {
	now := b.now().UnixNano()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range limits {
		t := b.table(l)
		if v, ok := t.Get(l.Key); ok && v.spent(now, l.Every, l.Burst) {
			return true, nil
		}
	}
	return false, nil
}

// Spend takes one unit from each of limits unless it is spent, creating
// the entry (and, in a full table, evicting the least recently used one)
// if the key has none. It never fails.
func (b *Budgets) Spend(_ context.Context, limits ...store.Limit) error {
	now := b.now().UnixNano()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range limits {
		t := b.table(l)
		v, _ := t.Get(l.Key) // absent: 0, a full budget
		if v.spent(now, l.Every, l.Burst) {
			continue
		}
		t.Add(l.Key, budget(max(int64(v), now)+int64(l.Every)))
	}
	return nil
}

// Take takes one unit from each of limits if none is spent, else none
// (store.RateLimits), under one lock. It never fails.
func (b *Budgets) Take(_ context.Context, limits []store.Limit) (store.Taken, error) {
	now := b.now().UnixNano()
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, l := range limits {
		v, _ := b.table(l).Get(l.Key)
		if v.spent(now, l.Every, l.Burst) {
			return store.Taken{Index: i, Retry: time.Duration(int64(v) - int64(l.Burst-1)*int64(l.Every) - now),
				Full: time.Duration(int64(v) - now)}, nil
		}
	}
	t := store.Taken{OK: true, Remaining: -1}
	for i, l := range limits {
		tb := b.table(l)
		v, _ := tb.Get(l.Key)
		tat := max(int64(v), now) + int64(l.Every)
		tb.Add(l.Key, budget(tat))
		left := l.Burst - int((tat-now+int64(l.Every)-1)/int64(l.Every))
		if t.Remaining < 0 || left < t.Remaining {
			t.Index, t.Remaining, t.Full = i, left, time.Duration(tat-now)
		}
	}
	if t.Remaining < 0 {
		t.Remaining = 0
	}
	return t, nil
}

// Len is the number of entries held in all tables.
func (b *Budgets) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, t := range b.tables {
		n += t.Len()
	}
	return n
}

// table returns l's table, creating it on first use. b.mu is held.
func (b *Budgets) table(l store.Limit) *simplelru.LRU[string, budget] {
	r := rate{l.Every, l.Burst}
	t, ok := b.tables[r]
	if !ok {
		t, _ = simplelru.NewLRU[string, budget](b.size, nil) // errs only for size <= 0
		b.tables[r] = t
	}
	return t
}

// spent reports whether no unit is left in v at now.
func (v budget) spent(now int64, every time.Duration, burst int) bool {
	return int64(v)-now > int64(burst-1)*int64(every)
}
