package upstream

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"sync"
	"syscall"
	"time"
)

// HTTP1Transport carries GET, HEAD and OPTIONS requests without a body to a
// plain-HTTP upstream on the calling goroutine: it writes the request head
// (requestHead: the bytes http.Request.Write writes, plus gatehouse's own
// fields) and reads the answer with http.ReadResponse, as http.Transport
// does for HTTP/1.1, on a pooled keep-alive connection. Everything else
// (bodies, upgrades, anything unusual) goes to fallback, an http.Transport.
//
// Why: http.Transport gives every connection a reader and a writer
// goroutine and hands each request to them over channels. Under load those
// hand-offs (goroutine wake-ups, futexes) cost more CPU than gatehouse's
// whole pipeline (docs/benchmarks.md). nginx works the same way: one
// request at a time per upstream connection, read by the worker that sent
// it.
//
// What http.Transport does that this one does too, for these requests:
//   - header names and values are validated before anything is written;
//   - the response header is limited to fallback.MaxResponseHeaderBytes;
//   - 1xx responses go to an httptrace Got1xxResponse hook (ReverseProxy
//     forwards them to the client); the connection (watchedConn) allows
//     MaxInformational of them and keeps the upstream timeout running through them;
//   - a request whose reused connection turns out closed before any byte
//     of the answer arrived is sent again on another one (these methods are
//     replayable), at most maxRetries times, never from a fresh connection;
//   - a connection is reused only after its response was read to the end
//     and neither side asked to close; never after a response without a
//     body by its method or status (HEAD, 204, 304), whose upstream may
//     still send one at any time;
//   - bytes an upstream sends while a connection is idle (an unsolicited
//     response, a 408) retire that connection before it is used again, so
//     they can never be taken for the answer to another client's request;
//   - idle connections are closed after fallback.IdleConnTimeout (0:
//     never), and at most fallback.MaxIdleConnsPerHost are kept;
//   - a cancelled request (the client went away) closes its connection at
//     once.
//
// Unlike http.Transport, a request that timed out (the watchdog cut its
// connection) is never sent again.
//
// Its limits are fallback's: one http.Transport configures both.
type HTTP1Transport struct {
	fallback *http.Transport
	// dial is fallback's dialer, held apart so that tests can count the
	// fast path's own connections.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	host string // URL host the transport serves ("h" or "h:port")
	addr string // host:port to dial
	// hostField and hostErr are hostField(host), computed once.
	hostField string
	hostErr   error

	mu    sync.Mutex
	idle  []*h1Conn   // oldest first; reuse takes the newest
	sweep *time.Timer // closes expired idle connections; nil when idle is empty
}

func newHTTP1Transport(fallback *http.Transport, host string) *HTTP1Transport {
	u := url.URL{Host: host}
	addr := net.JoinHostPort(u.Hostname(), cmp.Or(u.Port(), "80"))
	t := &HTTP1Transport{fallback: fallback, dial: fallback.DialContext, host: host, addr: addr}
	t.hostField, t.hostErr = hostField(host)
	return t
}

// maxHeaderBytes is fallback's response header limit, with
// http.Transport's default when it sets none.
func (t *HTTP1Transport) maxHeaderBytes() int64 {
	return cmp.Or(t.fallback.MaxResponseHeaderBytes, 10<<20)
}

// h1Conn is one upstream connection. Only the request that holds it (or
// the pool, under HTTP1Transport.mu) touches it.
type h1Conn struct {
	conn   net.Conn        // as dialed (a *watchedConn under a timeout)
	raw    syscall.RawConn // the socket, for the idle check; nil: never pooled
	br     *bufio.Reader   // reads through h1Conn.Read
	bw     *bufio.Writer
	limit  int64 // bytes Read may still return (the header limit)
	nread  int64 // bytes read for the current request
	reused bool  // it served a request before this one
	idleAt time.Time
}

// Read feeds br from the connection within the current limit.
func (c *h1Conn) Read(p []byte) (int, error) {
	if c.limit <= 0 {
		return 0, errResponseHeaderTooLarge
	}
	if int64(len(p)) > c.limit {
		p = p[:c.limit]
	}
	n, err := c.conn.Read(p)
	c.limit -= int64(n)
	c.nread += int64(n)
	return n, err
}

var errResponseHeaderTooLarge = errors.New("upstream response header too large")

// errUnexpectedSwitch is a 101 answer to a request that asked for no upgrade.
var errUnexpectedSwitch = errors.New("upstream switched protocols without being asked to")

// direct reports whether req takes the fast path.
func (t *HTTP1Transport) direct(req *http.Request) bool {
	return (req.Method == http.MethodGet || req.Method == http.MethodHead || req.Method == http.MethodOptions) &&
		(req.Body == nil || req.Body == http.NoBody) && req.ContentLength == 0 &&
		len(req.TransferEncoding) == 0 && len(req.Trailer) == 0 && !req.Close &&
		req.URL.Scheme == "http" && req.URL.Host == t.host && req.URL.User == nil &&
		len(req.Header["Upgrade"]) == 0
}

// RoundTrip implements http.RoundTripper.
func (t *HTTP1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.RoundTripWithFields(req, nil)
}

// RoundTripWithFields sends req with fields, header fields written after
// req.Header's (see FieldsRoundTripper).
func (t *HTTP1Transport) RoundTripWithFields(req *http.Request, fields [][2]string) (*http.Response, error) {
	if !t.direct(req) {
		return RoundTripWithFields(t.fallback, req, fields)
	}
	head, err := t.head(req, fields)
	if err != nil {
		return nil, err
	}
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		c, err := t.get(ctx)
		if err != nil {
			return nil, err
		}
		res, err := t.sendOn(ctx, c, req, &head)
		if err == nil {
			return res, nil
		}
		c.conn.Close()
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		if !c.reused || c.nread != 0 || isTimeout(err) || attempt == maxRetries {
			return nil, err
		}
		// The upstream closed a keep-alive connection before answering
		// (its idle timeout raced our request). These methods are
		// replayable: try the next idle connection, or a fresh one. A
		// timeout is not retried: the upstream has the request and is
		// slow; asking again would double the wait and its load.
	}
}

// maxRetries bounds the retries of one request on closed idle connections.
const maxRetries = 4

// sendOn sends req on c and reads the response header. On success c
// belongs to the response body until it is read to the end or closed.
func (t *HTTP1Transport) sendOn(ctx context.Context, c *h1Conn, req *http.Request, head *requestHead) (*http.Response, error) {
	// A cancelled request (the client went away) closes the connection,
	// which ends a read or write that is waiting on it.
	stop := context.AfterFunc(ctx, func() { c.conn.Close() })
	res, err := t.writeAndRead(ctx, c, req, head)
	if err != nil {
		stop()
		return nil, err
	}
	keep := !res.Close
	if res.Body == http.NoBody { // HEAD, 204, 304, Content-Length: 0
		// After a response that has no body by its method or status, a
		// buggy upstream may still send one, at once or at any time later:
		// a connection reused then would read it as the answer to another
		// client's request, which no check at reuse can rule out (the bytes
		// may arrive after it). Such a connection is never reused; costs one
		// dial per HEAD. A Content-Length: 0 answer to a GET is reused.
		t.release(c, stop, keep && !bodiless(req.Method, res.StatusCode))
		return res, nil
	}
	res.Body = &h1Body{body: res.Body, t: t, c: c, stop: stop, keep: keep}
	return res, nil
}

// writeAndRead writes req's head on c and reads the final response's
// header.
func (t *HTTP1Transport) writeAndRead(ctx context.Context, c *h1Conn, req *http.Request, head *requestHead) (*http.Response, error) {
	c.nread = 0
	c.limit = t.maxHeaderBytes()
	head.write(c.bw)
	if err := c.bw.Flush(); err != nil {
		return nil, err
	}
	trace := httptrace.ContextClientTrace(ctx)
	for {
		res, err := http.ReadResponse(c.br, req)
		switch {
		case err != nil:
			return nil, err
		case res.StatusCode == http.StatusSwitchingProtocols:
			return nil, errUnexpectedSwitch
		case res.StatusCode < 100 || res.StatusCode >= 200:
			c.limit = 1<<63 - 1 // the body is not limited here
			return res, nil
		}
		// 1xx: informational, the final response follows. As
		// http.Transport: whoever looks at one takes over its size.
		if trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(res.StatusCode, textproto.MIMEHeader(res.Header)); err != nil {
				return nil, err
			}
			c.limit = t.maxHeaderBytes()
		}
	}
}

// bodiless reports whether the response to a method has no body because of
// the method or its status (RFC 9112, section 6.3): after those, any byte an
// upstream sends is one nobody asked for.
func bodiless(method string, status int) bool {
	return method == http.MethodHead || status == http.StatusNoContent || status == http.StatusNotModified
}

// closeAfterHead makes http.Transport close the connection after the
// response to a HEAD ("Connection: close"), as HTTP1Transport does (see
// bodiless). (For 204 and 304, watchedConn ends the connection.)
func closeAfterHead(req *http.Request) {
	if req.Method == http.MethodHead {
		req.Close = true
	}
}

// release ends c's request: back to the pool if it may be reused, closed
// otherwise.
func (t *HTTP1Transport) release(c *h1Conn, stop func() bool, keep bool) {
	// stop is false when the cancel func has run or is running: the
	// connection is being closed.
	if !stop() || !keep || c.br.Buffered() != 0 || c.raw == nil {
		c.conn.Close()
		return
	}
	c.reused = true
	t.put(c)
}

// h1Body is a response body on the fast path. Read to the end, it returns
// its connection to the pool; closed before that, it closes it.
type h1Body struct {
	body io.ReadCloser // from http.ReadResponse
	t    *HTTP1Transport
	c    *h1Conn // nil once released
	stop func() bool
	keep bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	if b.c == nil {
		return 0, io.EOF
	}
	n, err := b.body.Read(p)
	if err != nil {
		c := b.c
		b.c = nil
		b.t.release(c, b.stop, b.keep && err == io.EOF)
		if err != io.EOF {
			err = fmt.Errorf("reading upstream response body: %w", err)
		}
	}
	return n, err
}

// Close abandons the rest of the body with its connection. (Closing the
// body from http.ReadResponse would read the rest first.)
func (b *h1Body) Close() error {
	if c := b.c; c != nil {
		b.c = nil
		b.t.release(c, b.stop, false)
	}
	return nil
}

// get returns an idle connection that is still open and silent, or a new
// one.
func (t *HTTP1Transport) get(ctx context.Context) (*h1Conn, error) {
	for {
		t.mu.Lock()
		n := len(t.idle)
		if n == 0 {
			t.mu.Unlock()
			break
		}
		c := t.idle[n-1]
		t.idle[n-1] = nil
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		if connQuiet(c.raw) {
			return c, nil
		}
		// Closed by the upstream, or it sent something nobody asked for.
		c.conn.Close()
	}
	conn, err := t.dial(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	c := &h1Conn{conn: conn, raw: rawConn(conn)} // raw nil: never pooled
	c.br = bufio.NewReaderSize(c, 4<<10)
	c.bw = bufio.NewWriterSize(conn, 4<<10)
	return c, nil
}

// rawConn returns the socket under c, or nil.
func rawConn(c net.Conn) syscall.RawConn {
	if wc, ok := c.(*watchedConn); ok {
		c = wc.Conn
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// put pools c, closing it if the pool is full.
func (t *HTTP1Transport) put(c *h1Conn) {
	c.idleAt = time.Now()
	t.mu.Lock()
	if len(t.idle) >= t.fallback.MaxIdleConnsPerHost {
		t.mu.Unlock()
		c.conn.Close()
		return
	}
	t.idle = append(t.idle, c)
	if timeout := t.fallback.IdleConnTimeout; t.sweep == nil && timeout > 0 {
		t.sweep = time.AfterFunc(timeout, t.closeExpired)
	}
	t.mu.Unlock()
}

// closeExpired closes the connections idle for fallback.IdleConnTimeout or
// longer and schedules itself for the next one to expire.
func (t *HTTP1Transport) closeExpired() {
	now := time.Now()
	t.mu.Lock()
	timeout := t.fallback.IdleConnTimeout
	n := 0
	for n < len(t.idle) && now.Sub(t.idle[n].idleAt) >= timeout {
		n++
	}
	expired := make([]*h1Conn, n)
	copy(expired, t.idle[:n])
	rest := copy(t.idle, t.idle[n:])
	clear(t.idle[rest:])
	t.idle = t.idle[:rest]
	if rest == 0 {
		t.sweep = nil
	} else {
		t.sweep.Reset(t.idle[0].idleAt.Add(timeout).Sub(now))
	}
	t.mu.Unlock()
	for _, c := range expired {
		c.conn.Close()
	}
}

// CloseIdleConnections closes the pooled connections of both transports.
func (t *HTTP1Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	if t.sweep != nil {
		t.sweep.Stop()
		t.sweep = nil
	}
	t.mu.Unlock()
	for _, c := range idle {
		c.conn.Close()
	}
	t.fallback.CloseIdleConnections()
}

// idleCount is the number of pooled connections (for tests).
func (t *HTTP1Transport) idleCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.idle)
}
