package acme

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	xacme "golang.org/x/crypto/acme"
)

// DefaultHandshakeTimeout bounds a TLS handshake when
// ListenerOptions.HandshakeTimeout is not positive.
const DefaultHandshakeTimeout = 10 * time.Second

// ListenerOptions configures NewListener.
type ListenerOptions struct {
	// HandshakeTimeout bounds each handshake (read and write deadlines on
	// the connection); a client that waits for a certificate to be issued
	// gets more time once it is (see Manager). Zero or negative means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// WrapHTTP1 wraps every connection that negotiated HTTP/1.x (or no
	// ALPN) before Accept returns it; nil leaves them as they are. HTTP/2
	// connections are returned as *tls.Conn, which net/http needs.
	WrapHTTP1 func(net.Conn) net.Conn
	// Logger receives failed handshakes at debug level; nil discards them.
	Logger *slog.Logger
}

// NewListener returns a listener that accepts TCP connections from ln,
// completes their TLS handshake with cfg in a goroutine each (bounded by
// the handshake timeout), and returns them from Accept:
//
//   - HTTP/2 ("h2") as the *tls.Conn, which net/http hands to its
//     TLSNextProto["h2"] (gatehouse's is proxy.ConfigureHTTP2, which wraps
//     it for read_header_timeout);
//   - HTTP/1.x as a connection that reports the TLS state through a
//     ConnectionState method (so net/http sets Request.TLS) wrapped by
//     WrapHTTP1, unwrapped by UnwrapHTTP1;
//   - "acme-tls/1" (a CA validating TLS-ALPN-01) not at all: the
//     handshake was all the CA needed, the connection is closed.
//
// A client that sends plain HTTP gets a 400 response, as from net/http.
// Close stops accepting; handshakes in progress end within their timeout.
func NewListener(ln net.Listener, cfg *tls.Config, opts ListenerOptions) net.Listener {
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = DefaultHandshakeTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &listener{inner: ln, cfg: cfg, opts: opts, log: log, conns: make(chan net.Conn), done: make(chan struct{}), failed: make(chan struct{})}
	go l.acceptLoop()
	return l
}

type listener struct {
	inner net.Listener
	cfg   *tls.Config
	opts  ListenerOptions
	log   *slog.Logger

	conns     chan net.Conn // handshaken connections, to Accept
	done      chan struct{} // closed by Close
	closeOnce sync.Once
	closeErr  error
	failed    chan struct{} // closed when the inner listener failed for good
	err       error         // why; written before failed is closed
}

func (l *listener) Addr() net.Addr { return l.inner.Addr() }

func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: l.inner.Addr().Network(), Addr: l.inner.Addr(), Err: net.ErrClosed}
	case <-l.failed:
		return nil, l.err
	}
}

func (l *listener) Close() error {
	l.closeOnce.Do(func() {
		close(l.done)
		l.closeErr = l.inner.Close()
	})
	return l.closeErr
}

// acceptLoop accepts until the inner listener is closed or fails for
// good. Running out of file descriptors is waited out with a backoff, as
// net/http does.
func (l *listener) acceptLoop() {
	var delay time.Duration
	for {
		c, err := l.inner.Accept()
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			if temporary(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				l.log.Warn("tls accept error; retrying", "error", err.Error(), "delay", delay.String())
				select {
				case <-time.After(delay):
					continue
				case <-l.done:
					return
				}
			}
			l.err = err
			close(l.failed)
			return
		}
		delay = 0
		go l.handshake(c)
	}
}

func temporary(err error) bool {
	var ne net.Error
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || (errors.As(err, &ne) && ne.Timeout())
}

// handshake completes the TLS handshake of raw and hands the connection
// to Accept, or closes it.
func (l *listener) handshake(raw net.Conn) {
	_ = raw.SetDeadline(time.Now().Add(l.opts.HandshakeTimeout))
	tc := tls.Server(raw, l.cfg)
	if err := tc.Handshake(); err != nil {
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			_, _ = io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
		}
		l.log.Debug("tls handshake failed", "remote", raw.RemoteAddr().String(), "error", err.Error())
		_ = raw.Close()
		return
	}
	_ = raw.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	var c net.Conn
	switch st.NegotiatedProtocol {
	case "h2":
		c = tc
	case xacme.ALPNProto:
		_ = tc.Close()
		return
	default:
		var inner net.Conn = tc
		if l.opts.WrapHTTP1 != nil {
			inner = l.opts.WrapHTTP1(tc)
		}
		c = &http1Conn{Conn: inner, state: st}
	}
	select {
	case l.conns <- c:
	case <-l.done:
		_ = c.Close()
	}
}

// looksLikeHTTP reports whether a TLS record header is the start of a
// plain HTTP request, as net/http checks.
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

// http1Conn is a TLS connection that speaks HTTP/1.x, possibly wrapped.
// ConnectionState lets net/http fill in Request.TLS.
type http1Conn struct {
	net.Conn
	state tls.ConnectionState
}

// ConnectionState returns the state of the completed handshake.
func (c *http1Conn) ConnectionState() tls.ConnectionState { return c.state }

// UnwrapHTTP1 returns the connection that ListenerOptions.WrapHTTP1
// returned for c, or c itself when c is not an HTTP/1 connection of a
// listener from NewListener. Use it in http.Server.ConnContext to reach
// the wrapper.
func UnwrapHTTP1(c net.Conn) net.Conn {
	if h, ok := c.(*http1Conn); ok {
		return h.Conn
	}
	return c
}
