package proxy

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// watchdogTick is the granularity of upstream timeouts: a response that has
// not started within the upstream's timeout is cut between timeout-tick and
// timeout+tick after the request was written (the clock the connections
// read is the ticker's, up to one tick old).
const watchdogTick = 100 * time.Millisecond

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
// to the first byte of the response") on the connections themselves, with
// one ticker for all of them and no timer per request.
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

// dialer wraps dial so that every connection it makes is watched with the
// given timeout. timeout <= 0 means no timeout (the connection is returned
// as is).
func (d *watchdog) dialer(dial func(ctx context.Context, network, addr string) (net.Conn, error), timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if timeout <= 0 {
		return dial
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		wc := &watchedConn{Conn: c, d: d, timeout: int64(timeout)}
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
	t := time.NewTicker(watchdogTick)
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

// watchedConn is an upstream connection under the watchdog.
type watchedConn struct {
	net.Conn
	d       *watchdog
	timeout int64 // nanoseconds

	since    atomic.Int64 // coarse time of the last request write; 0 = not waiting
	tunnel   atomic.Bool  // after a 101: never time out
	timedOut atomic.Bool

	// Only the reader of responses touches these (http.Transport's read
	// loop, or the request itself on h1Transport).
	status    [12]byte // start of the response, to recognize "HTTP/1.x 101"
	statusLen int
}

func (c *watchedConn) Write(p []byte) (int, error) {
	if !c.tunnel.Load() {
		c.since.Store(c.d.now.Load())
		c.statusLen = 0
	}
	return c.Conn.Write(p)
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.timedOut.Load() {
		// Whatever arrives after the deadline (an upstream answering the
		// close) is not a response to the request.
		return 0, errUpstreamTimeout
	}
	if n > 0 && c.since.Load() != 0 {
		// The response has started: the timeout is met. Remember its first
		// bytes long enough to see whether it is a 101.
		k := copy(c.status[c.statusLen:], p[:n])
		c.statusLen += k
		if c.statusLen == len(c.status) || err != nil {
			if string(c.status[8:12]) == " 101" { // "HTTP/1.1 101 ..."
				c.tunnel.Store(true)
			}
			c.since.Store(0)
		}
	}
	return n, err
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
