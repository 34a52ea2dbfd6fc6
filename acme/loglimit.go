package acme

import (
	"sync"
	"time"
)

// logLimiter bounds a kind of log line to burst lines per window, so that
// a scanner probing the TLS port cannot flood the log. The first line of
// a new window says how many were dropped in the previous ones.
type logLimiter struct {
	mu      sync.Mutex
	burst   int
	window  time.Duration
	start   time.Time
	n       int
	dropped int
}

func newLogLimiter(burst int, window time.Duration) *logLimiter {
	return &logLimiter{burst: burst, window: window}
}

// allow reports whether to log now and, when it does, how many lines were
// dropped since the last one that was logged.
func (l *logLimiter) allow(now time.Time) (ok bool, dropped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= l.window {
		l.start, l.n = now, 0
	}
	if l.n >= l.burst {
		l.dropped++
		return false, 0
	}
	l.n++
	dropped, l.dropped = l.dropped, 0
	return true, dropped
}
