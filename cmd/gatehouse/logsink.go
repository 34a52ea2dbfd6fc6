package main

import (
	"bufio"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// logSink buffers log lines and flushes them at least every interval and
// on Close, so that a busy proxy does not pay one write syscall per access
// record (Envoy buffers access logs the same way). Errors are flushed at
// once by the caller through Flush.
type logSink struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func newLogSink(w io.Writer, interval time.Duration) *logSink {
	s := &logSink{w: bufio.NewWriterSize(w, 64*1024), stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop(interval)
	return s
}

func (s *logSink) loop(interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = s.Flush()
		case <-s.stop:
			return
		}
	}
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// Flush writes out buffered lines.
func (s *logSink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Flush()
}

// Close stops the flusher and flushes. It is safe to call more than once.
func (s *logSink) Close() error {
	s.once.Do(func() { close(s.stop); <-s.done })
	return s.Flush()
}

func parseLevel(s string) (slog.Level, bool) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, false
	}
	return l, true
}
