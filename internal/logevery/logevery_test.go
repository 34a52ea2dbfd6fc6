package logevery

import (
	"testing"
	"time"
)

func TestEvery(t *testing.T) {
	e := &Every{Period: time.Minute}
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		at     time.Duration
		n      int
		logged bool
	}{
		{0, 1, true},                 // the first one is logged
		{time.Second, 0, false},      // then suppressed for a period
		{59 * time.Second, 0, false}, //
		{time.Minute, 3, true},       // a period after the last line: it and the two suppressed
		{time.Minute + 1, 0, false},
		{3 * time.Minute, 2, true},
	} {
		n, ok := e.Allow(t0.Add(c.at))
		if n != c.n || ok != c.logged {
			t.Errorf("at %v: Allow = %d, %v; want %d, %v", c.at, n, ok, c.n, c.logged)
		}
	}
}
