//lint:file-ignore SA1019 x/net/http2's Server is deprecated in favour of net/http's, which cannot serve a wrapped connection (see below); this is the one place that needs it.

package proxy

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/http2"
)

// net/http's HTTP/2 server has no header timeout: http.Server's
// ReadHeaderTimeout applies to HTTP/1 only, and HTTP2Config has nothing
// like it. A client can open a header block (HEADERS without END_HEADERS)
// and keep it open with an empty CONTINUATION now and then; the server's
// frame reader waits for the end of the block, the connection counts as
// idle, and only idle_timeout (120 s by default) ends it. The bundled
// server is reachable only with the *tls.Conn itself, so gatehouse serves
// HTTP/2 with golang.org/x/net/http2 (the same implementation, as a
// module) and hands it a connection that follows the frames it reads.

// ConfigureHTTP2 makes srv serve HTTP/2 over TLS ("h2" through ALPN) with
// golang.org/x/net/http2, configured from srv (idle timeout, header size,
// HTTP2Config) and shut down gracefully with it. When srv has a
// ReadHeaderTimeout, every header block (a HEADERS frame and its
// CONTINUATION frames, trailers included) must arrive within it, counted
// from its first frame header, and so must every frame header (9 bytes);
// otherwise the connection is closed. Bodies are not bounded by it (that is
// read_timeout's job, per request). Call it before srv serves.
func ConfigureHTTP2(srv *http.Server) error {
	h2 := &http2.Server{}
	if err := http2.ConfigureServer(srv, h2); err != nil {
		return err
	}
	// TLS only: no cleartext HTTP/2 on a listener that serves the API.
	delete(srv.TLSNextProto, "unencrypted_http2")
	timeout := srv.ReadHeaderTimeout
	srv.TLSNextProto[http2.NextProtoTLS] = func(hs *http.Server, c *tls.Conn, h http.Handler) {
		// net/http passes its per-connection context (ConnContext's
		// values) through this unadvertised method, as the bundled
		// server reads it.
		var ctx context.Context
		if bc, ok := h.(interface{ BaseContext() context.Context }); ok {
			ctx = bc.BaseContext()
		}
		var nc net.Conn = c
		if timeout > 0 {
			nc = newH2HeaderConn(c, c.ConnectionState(), timeout)
		}
		h2.ServeConn(nc, &http2.ServeConnOpts{Context: ctx, Handler: h, BaseConfig: hs})
	}
	return nil
}

// HTTP/2 frame types and flags that h2HeaderConn follows (RFC 9113 §6).
const (
	h2FrameHeaderLen        = 9
	h2TypeHeaders           = 0x1
	h2TypePushPromise       = 0x5
	h2TypeContinuation      = 0x9
	h2FlagEndHeaders   byte = 0x4
)

// h2HeaderConn is a TLS connection serving HTTP/2 that follows the frames
// the server reads from it (frame headers and payload lengths only) and
// sets a read deadline while a header block is open or a frame header is
// incomplete. The deadline of a header block is counted from its first
// frame header and is not extended by its CONTINUATION frames. Its
// ConnectionState is the TLS connection's, so that the server still sets
// Request.TLS.
//
// Only the server's frame-reading goroutine calls Read, and the server
// clears the read deadline itself only between header blocks (after a
// block, before reading the next frame), so the deadline set here is
// never raced.
type h2HeaderConn struct {
	net.Conn // the *tls.Conn
	state    tls.ConnectionState
	timeout  time.Duration

	preface   int                    // bytes of the client preface still to pass
	hdr       [h2FrameHeaderLen]byte // the frame header being read
	nhdr      int                    // bytes of it read
	payload   uint32                 // payload bytes of the current frame still to pass
	inBlock   bool                   // a header block is open
	endsBlock bool                   // the current frame ends the open block
	armed     bool                   // a read deadline is set
}

func newH2HeaderConn(c net.Conn, state tls.ConnectionState, timeout time.Duration) *h2HeaderConn {
	return &h2HeaderConn{Conn: c, state: state, timeout: timeout, preface: len(http2.ClientPreface)}
}

// ConnectionState returns the state of the completed handshake.
func (c *h2HeaderConn) ConnectionState() tls.ConnectionState { return c.state }

func (c *h2HeaderConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.follow(p[:n])
	}
	return n, err
}

// follow advances over bytes the server read, then sets or clears the read
// deadline for what the next read is in the middle of.
func (c *h2HeaderConn) follow(b []byte) {
	opened := false // a header block began in b
	for len(b) > 0 {
		switch {
		case c.preface > 0:
			k := min(c.preface, len(b))
			c.preface -= k
			b = b[k:]
		case c.payload > 0:
			k := uint32(min(len(b), int(min(c.payload, 1<<30))))
			c.payload -= k
			b = b[k:]
			if c.payload == 0 {
				c.frameDone()
			}
		default:
			k := copy(c.hdr[c.nhdr:], b)
			c.nhdr += k
			b = b[k:]
			if c.nhdr < h2FrameHeaderLen {
				break
			}
			c.nhdr = 0
			switch c.hdr[3] {
			case h2TypeHeaders, h2TypePushPromise, h2TypeContinuation:
				opened = opened || !c.inBlock
				c.inBlock = true
				c.endsBlock = c.hdr[4]&h2FlagEndHeaders != 0
			}
			c.payload = uint32(c.hdr[0])<<16 | uint32(c.hdr[1])<<8 | uint32(c.hdr[2])
			if c.payload == 0 {
				c.frameDone()
			}
		}
	}
	switch open := c.inBlock || c.nhdr > 0; {
	case open && (!c.armed || opened):
		// A block (or frame header) began in the bytes just read.
		c.armed = true
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	case !open && c.armed:
		c.armed = false
		_ = c.Conn.SetReadDeadline(time.Time{})
	}
}

// frameDone ends the current frame; one with END_HEADERS closes the block.
func (c *h2HeaderConn) frameDone() {
	if c.inBlock && c.endsBlock {
		c.inBlock, c.endsBlock = false, false
	}
}
