package main

import (
	"flag"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// logSink collects log lines in memory and writes them out from its own
// goroutine every interval, and on Close. A request never waits for a
// write system call: appending a line costs a mutex and a copy. (Envoy
// buffers its access logs the same way.) If the writer falls behind and
// maxBuffered bytes pile up, the caller that crosses the limit writes them
// itself, which bounds memory.
type logSink struct {
	w io.Writer

	mu    sync.Mutex // guards buf
	buf   []byte
	wmu   sync.Mutex // serializes writes to w, and guards spare
	spare []byte

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

const maxBuffered = 4 << 20

func newLogSink(w io.Writer, interval time.Duration) *logSink {
	s := &logSink{w: w, buf: make([]byte, 0, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
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

// Write appends p (one or more whole lines) to the buffer.
func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.buf = append(s.buf, p...)
	full := len(s.buf) >= maxBuffered
	s.mu.Unlock()
	if full {
		return len(p), s.Flush()
	}
	return len(p), nil
}

// Flush writes out what is buffered.
func (s *logSink) Flush() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	out := s.buf
	s.buf = s.spare[:0]
	s.mu.Unlock()
	var err error
	if len(out) > 0 {
		_, err = s.w.Write(out)
	}
	s.spare = out
	return err
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

// logFormatEnv, when set, is the default of --log-format.
const logFormatEnv = "GATEHOUSE_LOG_FORMAT"

// logFormatFlag adds --log-format to fs: "json" (the default, for
// services) or "text" (slog.TextHandler's key=value, for a human at a
// terminal); $GATEHOUSE_LOG_FORMAT changes the default.
func logFormatFlag(fs *flag.FlagSet) *string {
	def := os.Getenv(logFormatEnv)
	if def == "" {
		def = "json"
	}
	return fs.String("log-format", def, "log format: json (for services) or text (key=value, for a terminal); default from $"+logFormatEnv+", else json")
}

// newLogger returns the process logger writing to w in format ("json" or
// "text") at lvl, and whether the access log is text too; ok is false
// for another format.
func newLogger(w io.Writer, format string, lvl slog.Level) (logger *slog.Logger, text, ok bool) {
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), false, true
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), true, true
	}
	return nil, false, false
}
