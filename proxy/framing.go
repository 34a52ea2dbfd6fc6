package proxy

import (
	"bytes"
	"context"
	"errors"
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
// followed (Go's own parser still checks everything it did before), and a
// request after that point is refused rather than served unchecked.
//
// The follower also holds chunked request bodies to the grammar of RFC 9112
// section 7.1, which net/http's chunked reader applies only in part (it
// accepts white space after the chunk size, any text after a ";", and
// trailer sections with bare LF line ends, folded lines or framing fields).
// At the first byte that breaks it (a bare LF or CR, a size that is not
// 1 to 16 hex digits or does not fit an int63, a malformed chunk extension,
// anything but CRLF after the chunk data, a malformed or framing trailer
// field) the connection's reads stop: Read returns the bytes before the
// offending line and then errMalformedBody, so net/http hands the handler a
// body that ends in a read error, never the offending line or anything after
// it, and nothing waits for bytes that would never make the body valid. The
// grammar itself is in chunked.go. The pipeline asks bodyFault whether its
// request's body was the one refused (body.go).

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
	fsChunkData                     // chunk data: remain bytes
	fsDataEnd                       // the CRLF after chunk data: remain bytes of it left
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

	lineTooLong bool  // a line of the current head exceeded maxFramingLine
	readErr     error // errMalformedBody once a body was refused

	// Handler side.
	lostAt    atomic.Uint64 // heads completed when the follower stopped; 0 = following
	served    atomic.Uint64 // requests handed to the pipeline
	conflicts atomic.Bool
	mu        sync.Mutex
	bad       map[uint64]string // request number -> why its framing is refused
	faultWhy  string            // why a body was refused; written before faultAt
	faultAt   atomic.Uint64     // the request whose body was refused; 0 = none
}

// errMalformedBody is what the connection's reads return once a chunked
// body broke the grammar.
var errMalformedBody = errors.New("malformed chunked request body")

func (c *framingConn) Read(p []byte) (int, error) {
	if c.readErr != nil {
		return 0, c.readErr
	}
	n, err := c.Conn.Read(p)
	if n > 0 && c.state != fsOpaque {
		if at := c.follow(p[:n]); at >= 0 {
			// The bytes before the offending line go to net/http; the
			// rest of this read, and every later one, never do.
			c.readErr = errMalformedBody
			if at == 0 {
				return 0, c.readErr
			}
			return at, nil
		}
	}
	return n, err
}

// bodyFault returns why the body of request n (as numbered by next) was
// refused, or "".
func (c *framingConn) bodyFault(n uint64) string {
	if c.faultAt.Load() != n {
		return ""
	}
	return c.faultWhy
}

// next must be called exactly once for every request the server
// hands to the handler, in order (Server.ServeHTTP does); it numbers the
// request (from 1) and reports whether its head is refused.
//
// why is non-empty when the request's framing is refused. closeAfter is true
// when the follower stopped at or before this request (an upgrade, or
// framing it could not make out): no further request may then use the
// connection, since it would not be checked. A request whose head came after
// that point (the follower stopped in an earlier request's body, which the
// handler did not read) was never checked: it is refused.
func (c *framingConn) next() (n uint64, why string, closeAfter bool) {
	n = c.served.Add(1)
	if at := c.lostAt.Load(); at != 0 && n >= at {
		closeAfter = true
		if n > at {
			return n, "request follows framing gatehouse could not check", true
		}
	}
	if !c.conflicts.Load() {
		return n, "", closeAfter
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return n, c.bad[n], closeAfter
}

// follow follows the bytes b the server reads. It returns -1, or the offset
// in b of the line (or byte) at which a chunked body broke the grammar: 0
// when that line began in an earlier read.
func (c *framingConn) follow(b []byte) int {
	off := 0
	for off < len(b) && c.state != fsOpaque {
		switch c.state {
		case fsBody, fsChunkData:
			k := min(int64(len(b)-off), c.remain)
			c.remain -= k
			off += int(k)
			if c.remain == 0 {
				if c.state == fsBody {
					c.state = fsHead
				} else {
					c.state, c.remain = fsDataEnd, 2
				}
			}
		case fsDataEnd:
			// Exactly CRLF after the data: net/http reads these two bytes
			// blindly, and a bare LF or junk here is how a follower and a
			// parser fall out of step.
			want := byte('\r')
			if c.remain == 1 {
				want = '\n'
			}
			if b[off] != want {
				c.fault("chunk data is not followed by CRLF")
				return off
			}
			off++
			if c.remain--; c.remain == 0 {
				c.state = fsChunkSize
			}
		default:
			start := off
			if len(c.line) != 0 {
				start = 0 // the line began in an earlier read
			}
			i := bytes.IndexByte(b[off:], '\n')
			if i < 0 {
				c.appendLine(b[off:])
				return -1
			}
			var line []byte
			if len(c.line) == 0 {
				line = b[off : off+i+1] // the whole line is in this read: no copy
			} else {
				c.appendLine(b[off : off+i+1])
				line = c.line
			}
			off += i + 1
			ok := c.endLine(line)
			c.line = c.line[:0]
			if !ok {
				return start
			}
		}
	}
	return -1
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

// fault refuses the body being read: the pipeline is told which request's
// body it was, and the connection is not followed (nor read) any further.
func (c *framingConn) fault(why string) {
	c.faultWhy = why
	c.faultAt.Store(c.heads)
	c.stop()
}

// endLine ends a line, which still carries its line end. It returns false
// when a chunked body broke the grammar (see fault).
func (c *framingConn) endLine(line []byte) bool {
	if c.state == fsHead {
		// A line over maxFramingLine was cut; the head is refused when it
		// ends (headLine).
		c.headLine(bytes.TrimRight(line, "\r\n"))
		return true
	}
	if c.lineTooLong {
		c.lineTooLong = false
		c.fault("chunked body line too long")
		return false
	}
	// Chunk-size and trailer lines end in CRLF, with no CR or LF before it
	// (RFC 9112 section 7.1 and erratum 7633).
	text, ok := bytes.CutSuffix(line, []byte("\r\n"))
	if !ok || bytes.IndexByte(text, '\r') >= 0 {
		c.fault("chunked body line does not end in CRLF")
		return false
	}
	if c.state == fsChunkSize {
		v, why := parseChunkSize(text)
		switch {
		case why != "":
			c.fault(why)
			return false
		case v == 0:
			c.state = fsTrailer
		default:
			c.state, c.remain = fsChunkData, v
		}
		return true
	}
	// fsTrailer
	if len(text) == 0 {
		c.state = fsHead
		return true
	}
	if why := checkTrailerField(text); why != "" {
		c.fault(why)
		return false
	}
	return true
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
