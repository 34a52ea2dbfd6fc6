// Package logevery bounds how often a recurring log line is written: a
// store that keeps failing on every request is reported once per period,
// with the number of occurrences since the last line, not once per
// request.
package logevery

import (
	"sync"
	"time"
)

// Every lets one line through per period. The zero value is not usable:
// set Period. Safe for concurrent use.
type Every struct {
	Period time.Duration

	mu         sync.Mutex
	last       time.Time // when a line was last let through
	suppressed int       // occurrences since then, not logged
}

// Allow reports whether a line may be written at now and, if so, how many
// occurrences it stands for (this one and those suppressed since the last
// line).
func (e *Every) Allow(now time.Time) (n int, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.last.IsZero() && now.Sub(e.last) < e.Period {
		e.suppressed++
		return 0, false
	}
	n = e.suppressed + 1
	e.last, e.suppressed = now, 0
	return n, true
}
