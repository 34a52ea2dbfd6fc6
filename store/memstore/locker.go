package memstore

import (
	"context"
	"sync"

	"github.com/gatehouse-dev/gatehouse/store"
)

// Locker is store.Locker within one process: named mutexes that a waiter
// can give up on through its context. Its locks are never lost. It is
// safe for concurrent use; names are forgotten when released.
type Locker struct {
	mu    sync.Mutex
	held  map[string]chan struct{} // closed when released
	never chan struct{}            // the lost channel of every lock
}

var _ store.Locker = (*Locker)(nil)

// NewLocker returns a Locker with no lock held.
func NewLocker() *Locker {
	return &Locker{held: map[string]chan struct{}{}, never: make(chan struct{})}
}

// Lock waits until name is free or ctx ends.
func (l *Locker) Lock(ctx context.Context, name string) (func(), <-chan struct{}, error) {
	for {
		l.mu.Lock()
		released, busy := l.held[name]
		if !busy {
			mine := make(chan struct{})
			l.held[name] = mine
			l.mu.Unlock()
			var once sync.Once
			unlock := func() {
				once.Do(func() {
					l.mu.Lock()
					delete(l.held, name)
					l.mu.Unlock()
					close(mine)
				})
			}
			return unlock, l.never, nil
		}
		l.mu.Unlock()
		select {
		case <-released:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}
