package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// WatchdogTick is the granularity of upstream timeouts: a response that has
// not started within the upstream's timeout is cut between timeout-tick and
// timeout+tick after the request was written (the clock the connections
// read is the ticker's, up to one tick old).
const WatchdogTick = 100 * time.Millisecond

// errUpstreamTimeout is returned by reads on an upstream connection that the
// watchdog closed. It is a net.Error whose Timeout is true.
var errUpstreamTimeout error = upstreamTimeoutError{}

type upstreamTimeoutError struct{}

func (upstreamTimeoutError) Error() string {
	return "upstream did not start its response within the upstream timeout"
}
func (upstreamTimeoutError) Timeout() bool   { return true }
func (upstreamTimeoutError) Temporary() bool { return false }

// watchdog enforces upstream timeouts ("time from the request being written
// to the first byte of the final response": 1xx responses before it do not
// count, see watchedConn.Read) on the connections themselves, with one
// ticker for all of them and no timer per request.
//
// Why not http.Transport.ResponseHeaderTimeout or a context deadline: both
// arm a runtime timer (and a context) per request, which under gVisor cost
// 2 to 3 µs of CPU per request, about 6% of the whole proxy
// (docs/benchmarks.md). Here a request costs two atomic stores.
//
// Upstream connections are HTTP/1.1 only (one request at a time per
// connection), which makes "waiting for a response" a property of the
// connection. After a 101 Switching Protocols response the connection is a
// tunnel and is no longer watched.
type watchdog struct {
	now atomic.Int64 // coarse clock (UnixNano), advanced every tick

	mu      sync.Mutex
	conns   map[*watchedConn]struct{}
	running bool
	closed  bool
	stop    chan struct{}
	done    chan struct{}
}

func newWatchdog() *watchdog {
	// The coarse clock is set when the first connection starts the ticker.
	return &watchdog{conns: make(map[*watchedConn]struct{}), stop: make(chan struct{}), done: make(chan struct{})}
}

// dialer wraps dial so that every connection it makes is a watchedConn,
// watched with the given timeout. timeout <= 0 means no timeout: the
// connection's responses are still followed (1xx limit, no reuse after a
// 204 or 304), and the watchdog never sees it.
func (d *watchdog) dialer(dial func(ctx context.Context, network, addr string) (net.Conn, error), timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		wc := &watchedConn{Conn: c, d: d, timeout: int64(timeout)}
		if timeout <= 0 {
			return wc, nil // followed (see watchedConn.Read), never timed out
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.closed {
			c.Close()
			return nil, net.ErrClosed
		}
		d.conns[wc] = struct{}{}
		if !d.running {
			// The coarse clock only advances while the ticker runs: bring it
			// up to date before the first request reads it.
			d.now.Store(time.Now().UnixNano())
			d.running = true
			go d.run()
		}
		return wc, nil
	}
}

func (d *watchdog) run() {
	defer close(d.done)
	t := time.NewTicker(WatchdogTick)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case now := <-t.C:
			n := now.UnixNano()
			d.now.Store(n)
			d.mu.Lock()
			for c := range d.conns {
				if s := c.since.Load(); s != 0 && n-s > c.timeout {
					c.expire()
				}
			}
			d.mu.Unlock()
		}
	}
}

func (d *watchdog) forget(c *watchedConn) {
	d.mu.Lock()
	delete(d.conns, c)
	d.mu.Unlock()
}

// close stops the ticker. Idempotent.
func (d *watchdog) close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	running := d.running
	d.mu.Unlock()
	close(d.stop)
	if running {
		<-d.done
	}
}

// watchedConn is an upstream connection, under the watchdog when timeout
// is above 0. Whatever its timeout, it follows the heads of the responses
// it carries (see Read), which gives every upstream transport, gatehouse's
// and http.Transport alike, the same rules for 1xx responses and for
// responses that have no body.
type watchedConn struct {
	net.Conn
	d       *watchdog
	timeout int64 // nanoseconds; 0: not watched

	since    atomic.Int64 // coarse time of the last request write; 0 = not waiting
	tunnel   atomic.Bool  // after a 101: never time out
	timedOut atomic.Bool

	// Only the reader of responses touches these (http.Transport's read
	// loop, or the request itself on HTTP1Transport).
	state     respState
	status    [12]byte // start of the response, to read "HTTP/1.x NNN"
	statusLen int
	eol       uint8 // where the head scan is: 1 after LF, 2 after LF CR
	n1xx      int   // 1xx responses before the current one
	spent     bool  // a response without a body ended: nothing more is read
}

// respState is where a watchedConn's reader is in the stream of responses.
type respState uint8

const (
	respIdle     respState = iota // between responses, or in a final response's body
	respStatus                    // reading the first 12 bytes of a response
	respInfo                      // in the head of a 1xx response
	respBodiless                  // in the head of a final 204 or 304
)

// MaxInformational is how many 1xx responses (100 Continue, 103 Early
// Hints) may come before a final response; beyond it the request fails
// with ErrTooManyInformational.
const MaxInformational = 16

// ErrTooManyInformational is returned by reads on an upstream connection
// whose response had more than MaxInformational informational responses.
var ErrTooManyInformational = errors.New("upstream sent more than 16 informational (1xx) responses")

func (c *watchedConn) Write(p []byte) (int, error) {
	if !c.tunnel.Load() {
		// Not 0 even when the clock has not started (no watched connection
		// yet): Read follows the response either way.
		c.since.Store(max(c.d.now.Load(), 1))
	}
	return c.Conn.Write(p)
}

// Read reads from the upstream and follows the heads of its responses:
//
//   - The upstream timeout runs from the request's write until the start
//     of the final response: 1xx responses before it do not stop the
//     clock, so an upstream that sends them for ever still times out.
//   - More than MaxInformational 1xx responses fail the read.
//   - A final 204 or 304 has no body: the read that carries the end of its
//     head returns io.EOF, and every later one too, so that no transport
//     reuses the connection. A buggy upstream may send a body after them,
//     at once or later, which would be read as the answer to another
//     client's request (for HEAD, whose response has no body by its
//     method, see bodiless).
//   - After a 101 the connection is a tunnel: no timeout, nothing followed.
func (c *watchedConn) Read(p []byte) (int, error) {
	if c.spent {
		return 0, io.EOF
	}
	n, err := c.Conn.Read(p)
	if c.timedOut.Load() {
		// Whatever arrives after the deadline (an upstream answering the
		// close) is not a response to the request.
		return 0, errUpstreamTimeout
	}
	if n > 0 && (c.state != respIdle || c.since.Load() != 0) {
		return c.follow(p[:n], err)
	}
	return n, err
}

// follow advances the reader's state over b, the bytes a read returned
// with err, and returns what that read returns.
func (c *watchedConn) follow(b []byte, err error) (int, error) {
	for i := 0; i < len(b); {
		switch c.state {
		case respIdle:
			// The first bytes after a request write: a response starts.
			c.state, c.statusLen, c.n1xx = respStatus, 0, 0
		case respStatus:
			k := copy(c.status[c.statusLen:], b[i:])
			c.statusLen += k
			i += k
			if c.statusLen < len(c.status) && err == nil {
				continue // i == len(b): wait for the rest
			}
			c.eol = 0
			switch code := c.statusCode(); {
			case code == http.StatusSwitchingProtocols:
				c.tunnel.Store(true)
				c.since.Store(0)
				c.state = respIdle
				return len(b), err
			case code >= 100 && code < 200:
				if c.n1xx++; c.n1xx > MaxInformational {
					// The bytes before this response's, then the error.
					c.spent = true
					return max(i-c.statusLen, 0), ErrTooManyInformational
				}
				c.state = respInfo
			case code == http.StatusNoContent || code == http.StatusNotModified:
				c.since.Store(0)
				c.state = respBodiless
			default: // the final response has started: the timeout is met
				c.since.Store(0)
				c.state = respIdle
				return len(b), err
			}
		default: // respInfo, respBodiless
			k, end := c.scanHead(b[i:])
			i += k
			if !end {
				continue
			}
			if c.state == respInfo {
				c.state, c.statusLen = respStatus, 0
				continue
			}
			c.state, c.spent = respIdle, true
			return i, io.EOF
		}
	}
	return len(b), err
}

// statusCode returns the status code at the start of a response, or 0.
func (c *watchedConn) statusCode() int {
	s := c.status[:c.statusLen]
	if len(s) < 12 || string(s[:7]) != "HTTP/1." || s[8] != ' ' {
		return 0
	}
	code := 0
	for _, d := range s[9:12] {
		if d < '0' || d > '9' {
			return 0
		}
		code = code*10 + int(d-'0')
	}
	return code
}

// scanHead looks for the end of a response head in b: an empty line, as
// net/textproto reads it (LF, then LF or CR LF). It returns how many bytes
// of b belong to the head and whether it ended.
func (c *watchedConn) scanHead(b []byte) (int, bool) {
	for i, ch := range b {
		switch {
		case ch == '\n' && c.eol != 0:
			return i + 1, true
		case ch == '\n':
			c.eol = 1
		case ch == '\r' && c.eol == 1:
			c.eol = 2
		default:
			c.eol = 0
		}
	}
	return len(b), false
}

// expire cuts the connection: the TCP connection itself, without a TLS
// close_notify, which an upstream could answer.
func (c *watchedConn) expire() {
	c.timedOut.Store(true)
	c.since.Store(0)
	if tc, ok := c.Conn.(*tls.Conn); ok {
		_ = tc.NetConn().Close()
		return
	}
	_ = c.Conn.Close()
}

func (c *watchedConn) Close() error {
	c.d.forget(c)
	return c.Conn.Close()
}

// isTimeout reports whether err is, or wraps, a net.Error that timed out.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
