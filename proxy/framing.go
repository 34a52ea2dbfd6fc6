package proxy

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Go's HTTP server accepts a request that carries both Transfer-Encoding
// and Content-Length: it drops Content-Length (RFC 9112 §6.3) and reads the
// chunked body. gatehouse re-frames what it forwards, so the upstream never
// sees both; but a front proxy that trusted Content-Length would have framed
// the stream differently, which is how request smuggling starts. RFC 9112
// says such a message "ought to be handled as an error", and gatehouse
// refuses it (400, connection closed).
//
// Since net/http removes the Content-Length header before a handler runs,
// the check happens on the connection: FramingListener's connections follow
// the HTTP/1.1 framing of the bytes the server reads (request heads,
// Content-Length and chunked bodies) and note which requests had both
// headers. The canonicalize stage asks by request number. A connection that
// upgrades, or whose framing the follower cannot make out, is no longer
// followed (Go's own parser still checks everything it did before).

// FramingListener wraps an HTTP/1 listener so that requests carrying both
// Content-Length and Transfer-Encoding can be refused. Use it together with
// FramingConnContext as the http.Server's ConnContext.
func FramingListener(ln net.Listener) net.Listener { return framingListener{ln} }

// FramingConn wraps one HTTP/1 connection the way FramingListener's
// connections are wrapped, for listeners that hand out connections of their
// own (gatehouse's TLS listener wraps the decrypted connection). Use it
// together with FramingConnContext.
func FramingConn(c net.Conn) net.Conn { return &framingConn{Conn: c} }

// FramingConnContext is an http.Server ConnContext that makes a
// FramingListener connection known to the pipeline.
func FramingConnContext(ctx context.Context, c net.Conn) context.Context {
	if fc, ok := c.(*framingConn); ok {
		return context.WithValue(ctx, framingKey{}, fc)
	}
	return ctx
}

type framingKey struct{}

type framingListener struct{ net.Listener }

func (l framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framingConn{Conn: c}, nil
}

// maxFramingLine bounds the line the follower buffers; a longer header line
// is refused by net/http (431) before it matters.
const maxFramingLine = 64 << 10

type framingState uint8

const (
	fsHead      framingState = iota // request line and headers
	fsBody                          // Content-Length body: remain bytes
	fsChunkSize                     // chunk-size line
	fsChunkData                     // chunk data: remain bytes, then CRLF
	fsTrailer                       // trailer lines until an empty line
	fsOpaque                        // not followed any more
)

type framingConn struct {
	net.Conn

	// Read side: only the server's reading goroutine touches these.
	state        framingState
	line         []byte
	remain       int64
	requestLine  bool // the current head's request line has been seen
	http10       bool // HTTP/1.0 ignores Transfer-Encoding, as net/http does
	hasCL, hasTE bool
	clBad        bool // a Content-Length net/http will refuse
	folded       bool // an obs-fold continuation line (RFC 9112 §5.2)
	upgrade      bool
	heads        uint64 // request heads completed

	lineTooLong bool // a line of the current head exceeded maxFramingLine

	// Handler side.
	lostAt    atomic.Uint64 // heads completed when the follower stopped; 0 = following
	served    atomic.Uint64 // requests handed to the pipeline
	conflicts atomic.Bool
	mu        sync.Mutex
	bad       map[uint64]string // request number -> why its framing is refused
}

func (c *framingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.state != fsOpaque {
		c.follow(p[:n])
	}
	return n, err
}

// next must be called exactly once for every request the server
// hands to the handler, in order (Server.ServeHTTP does); it reports whether
// that request's head carried both framing headers.
//
// why is non-empty when the request's framing is refused. closeAfter is true
// when the follower stopped at or before this request (an upgrade, or
// framing it could not make out): no further request may then use the
// connection, since it would not be checked.
func (c *framingConn) next() (why string, closeAfter bool) {
	n := c.served.Add(1)
	if at := c.lostAt.Load(); at != 0 && n >= at {
		closeAfter = true
	}
	if !c.conflicts.Load() {
		return "", closeAfter
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bad[n], closeAfter
}

func (c *framingConn) follow(b []byte) {
	for len(b) > 0 && c.state != fsOpaque {
		switch c.state {
		case fsBody, fsChunkData:
			k := int64(len(b))
			if k > c.remain {
				k = c.remain
			}
			c.remain -= k
			b = b[k:]
			if c.remain == 0 {
				if c.state == fsBody {
					c.state = fsHead
				} else {
					c.state, c.remain = fsChunkSize, -2 // the CRLF after the data
				}
			}
		default:
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				c.appendLine(b)
				return
			}
			var line []byte
			if len(c.line) == 0 {
				line = b[:i+1] // the whole line is in this read: no copy
			} else {
				c.appendLine(b[:i+1])
				line = c.line
			}
			b = b[i+1:]
			c.endLine(bytes.TrimRight(line, "\r\n"))
			c.line = c.line[:0]
		}
	}
}

func (c *framingConn) appendLine(b []byte) {
	if room := maxFramingLine - len(c.line); len(b) > room {
		// Keep scanning for the end of the line; the head is refused.
		c.lineTooLong = true
		b = b[:max(room, 0)]
	}
	c.line = append(c.line, b...)
}

// stop gives up following the connection: from now on the pipeline closes
// it after the current request (see lostTrack).
func (c *framingConn) stop() {
	c.state = fsOpaque
	c.lostAt.Store(max(c.heads, 1))
}

func (c *framingConn) endLine(line []byte) {
	if c.lineTooLong && c.state != fsHead {
		c.stop() // a chunk or trailer line net/http refuses
		return
	}
	switch c.state {
	case fsHead:
		c.headLine(line)
	case fsChunkSize:
		if c.remain == -2 { // the CRLF that ends the previous chunk's data
			c.remain = 0
			if len(line) != 0 {
				c.stop()
			}
			return
		}
		size, _, _ := bytes.Cut(line, []byte(";"))
		v, err := parseInt(bytes.TrimSpace(size), 16)
		switch {
		case err != nil || v < 0:
			c.stop()
		case v == 0:
			c.state = fsTrailer
		default:
			c.state, c.remain = fsChunkData, v
		}
	case fsTrailer:
		if len(line) == 0 {
			c.state = fsHead
		}
	}
}

func (c *framingConn) headLine(line []byte) {
	if !c.requestLine {
		if len(line) == 0 {
			return // empty lines before a request line are ignored
		}
		c.requestLine = true
		c.hasCL, c.hasTE, c.upgrade, c.remain = false, false, false, 0
		c.clBad, c.folded = false, false
		c.http10 = bytes.HasSuffix(line, []byte(" HTTP/1.0"))
		if bytes.HasPrefix(line, []byte("CONNECT ")) {
			c.upgrade = true
		}
		return
	}
	if len(line) != 0 {
		if line[0] == ' ' || line[0] == '\t' {
			// net/http joins folded lines; a follower that did not could be
			// told a different Content-Length. Refused instead (RFC 9112
			// allows either).
			c.folded = true
			return
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return
		}
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			c.hasCL = true
			if v, err := parseInt(bytes.TrimSpace(value), 10); err == nil && v >= 0 {
				c.remain = v
			} else {
				c.clBad = true
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			c.hasTE = true
		case bytes.EqualFold(name, []byte("Upgrade")):
			c.upgrade = true
		}
		return
	}
	// End of the head.
	c.heads++
	tooLong := c.lineTooLong
	c.lineTooLong = false
	c.requestLine = false
	if c.http10 && c.hasTE && !c.hasCL {
		c.hasTE = false
	}
	why := ""
	switch {
	case tooLong:
		why = "a request header line is too long to check"
	case c.clBad:
		why = "request has a Content-Length gatehouse cannot read"
	case c.folded:
		why = "request head uses obsolete line folding"
	case c.hasCL && c.hasTE:
		why = "request has both Content-Length and Transfer-Encoding"
	}
	if why != "" {
		c.mu.Lock()
		if c.bad == nil {
			c.bad = make(map[uint64]string)
		}
		c.bad[c.heads] = why
		c.mu.Unlock()
		c.conflicts.Store(true)
		c.stop() // the connection is closed after the refusal
		return
	}
	switch {
	case c.upgrade:
		c.stop() // a tunnel may follow; if not, the connection is closed
	case c.hasTE:
		c.state, c.remain = fsChunkSize, 0
	case c.hasCL && c.remain > 0:
		c.state = fsBody
	}
}

func framingFrom(ctx context.Context) *framingConn {
	fc, _ := ctx.Value(framingKey{}).(*framingConn)
	return fc
}

// parseInt parses a non-negative integer in base 10 or 16 without
// allocating.
func parseInt(b []byte, base int) (int64, error) {
	if len(b) == 0 || len(b) > 16 {
		return 0, strconv.ErrSyntax
	}
	var v int64
	for _, c := range b {
		if 'A' <= c && c <= 'F' {
			c += 'a' - 'A'
		}
		d := strings.IndexByte(hexDigits[:base], c)
		if d < 0 {
			return 0, strconv.ErrSyntax
		}
		v = v*int64(base) + int64(d)
	}
	return v, nil
}
