package proxy

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// Bounds of the access lines of abandoned requests: at most
// abandonedBurst per abandonedWindow are written one by one; the rest are
// counted into one summary line per window.
const (
	abandonedBurst  = 10
	abandonedWindow = 10 * time.Second
)

// An HTTP/2 request is abandoned when its stream was reset, or its
// connection closed, before its response went out (its context is
// canceled when the access record is written; the server sends a
// pipeline response only when the handler returns, after the record, so
// the client never sees it) and nothing of it was sent to an upstream. A
// client can open and reset HTTP/2 streams faster than anything else it
// can send ("rapid reset"), and each reset stream would otherwise cost one
// access line: a flood of them would flood the log. abandonedLog lets
// abandonedBurst such lines per window through, marked "abandoned":true,
// and writes one summary line (msg "abandoned requests not logged", level
// WARN, with "count" and "since") at the end of a window in which it held
// lines back. Requests that reached an upstream are always logged one by
// one, abandoned or not: the access log stays a complete record of what
// was forwarded. HTTP/1 requests are always logged: a client that
// half-closes its connection cancels the context too, yet still reads the
// answer, and each HTTP/1 request costs a connection anyway.
type abandonedLog struct {
	log *accessLog

	mu     sync.Mutex
	start  time.Time // of the current window
	logged int       // lines let through in the current window
	count  int       // lines held back since `since`, not yet summarized
	since  time.Time
	timer  *time.Timer // writes the summary at the end of the window
	closed bool
}

// allow reports whether to write the access line of an abandoned request
// that ended at now; when not, the request is counted for the summary.
func (a *abandonedLog) allow(now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if now.Sub(a.start) >= abandonedWindow {
		a.start, a.logged = now, 0
	}
	if a.logged < abandonedBurst {
		a.logged++
		return true
	}
	if a.count == 0 {
		a.since = now
		if !a.closed {
			a.timer = time.AfterFunc(a.start.Add(abandonedWindow).Sub(now), a.flush)
		}
	}
	a.count++
	return false
}

// flush writes the summary of the lines held back, if any.
func (a *abandonedLog) flush() {
	a.mu.Lock()
	n, since := a.count, a.since
	a.count = 0
	a.mu.Unlock()
	if n > 0 {
		a.log.writeAbandoned(n, since, time.Now())
	}
}

// close writes the pending summary at once; later summaries are written
// only by later calls to close.
func (a *abandonedLog) close() {
	a.mu.Lock()
	a.closed = true
	if a.timer != nil {
		a.timer.Stop()
	}
	a.mu.Unlock()
	a.flush()
}

// writeAbandoned writes the summary line of n abandoned requests whose
// access lines were held back since `since`.
func (l *accessLog) writeAbandoned(n int, since, now time.Time) {
	if l.text != nil {
		rec := slog.NewRecord(now, slog.LevelWarn, "abandoned requests not logged", 0)
		rec.AddAttrs(slog.Int("count", n), slog.String("since", since.Format(time.RFC3339Nano)),
			slog.String("detail", "requests whose clients went away before a response and that reached no upstream (HTTP/2 resets, closed connections), beyond "+
				strconv.Itoa(abandonedBurst)+" per "+abandonedWindow.String()))
		l.mu.Lock()
		_ = l.text.Handle(context.Background(), rec)
		l.mu.Unlock()
		return
	}
	b := make([]byte, 0, 256)
	b = append(b, `{"time":"`...)
	b = now.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"WARN","msg":"abandoned requests not logged","count":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `,"since":"`...)
	b = since.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","detail":"requests whose clients went away before a response and that reached no upstream (HTTP/2 resets, closed connections), beyond `...)
	b = strconv.AppendInt(b, abandonedBurst, 10)
	b = append(b, ` per `...)
	b = append(b, abandonedWindow.String()...)
	b = append(b, "\"}\n"...)
	l.mu.Lock()
	_, _ = l.w.Write(b)
	l.mu.Unlock()
}
