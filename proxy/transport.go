package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"time"
)

// transportKey identifies a pooled upstream transport. Transports live in
// Server and are shared by every generation, so keep-alive connections
// survive reloads.
//
// Each upstream gets two: requests without a body go through a "watched"
// transport whose connections enforce the upstream timeout through the
// watchdog (two atomic stores per request); requests with a body use
// http.Transport's ResponseHeaderTimeout, which starts only once the whole
// body is written, so a slow client upload never counts against the
// upstream. (The watchdog cannot tell a pause in a streaming body from an
// upstream that does not answer.)
type transportKey struct {
	scheme, host string
	timeout      time.Duration
	watched      bool
}

// maxResponseHeaderBytes bounds an upstream response's header (status line,
// fields, and any 1xx responses nobody looked at) on both transports.
const maxResponseHeaderBytes = 1 << 20

// pooledTransport is an upstream transport with a connection pool.
type pooledTransport interface {
	http.RoundTripper
	CloseIdleConnections()
}

// transport returns the pooled transport for k, creating it once. Watched
// transports to plain-HTTP upstreams carry GET, HEAD and OPTIONS themselves
// (h1transport.go) and the rest through http.Transport.
func (s *Server) transport(k transportKey) pooledTransport {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.transports[k]; ok {
		return t
	}
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:       nil, // never route upstream traffic through $HTTP_PROXY
		DialContext: d.DialContext,
		// HTTP/1.1 to upstreams, as nginx does: the watchdog relies on one
		// request at a time per connection.
		ForceAttemptHTTP2:      false,
		MaxIdleConns:           0,
		MaxIdleConnsPerHost:    1024,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  1 * time.Second,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		// Pass the client's Accept-Encoding and the upstream's encoding
		// through untouched.
		DisableCompression: true,
	}
	// gatehouse makes TLS connections itself so that its connections
	// (watchedConn) see the plaintext HTTP/1.1 stream: the watchdog, and on
	// both transports the rules for 1xx and bodiless responses.
	timeout := k.timeout
	if !k.watched {
		t.ResponseHeaderTimeout = k.timeout
		timeout = 0
	}
	t.DialContext = s.watchdog.dialer(d.DialContext, timeout)
	t.DialTLSContext = s.watchdog.dialer(tlsDialer(d, s.roots), timeout)
	if k.watched && k.scheme == "http" && h1Supported {
		h1 := newH1Transport(t, k.host)
		s.transports[k] = h1
		return h1
	}
	s.transports[k] = t
	return t
}

// tlsDialer dials and completes a TLS 1.2+ handshake for an https upstream,
// verifying its certificate against roots (nil: the system roots).
func tlsDialer(d *net.Dialer, roots *x509.CertPool) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			raw.Close()
			return nil, err
		}
		tc := tls.Client(raw, &tls.Config{ServerName: host, RootCAs: roots, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}})
		hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			raw.Close()
			return nil, err
		}
		return tc, nil
	}
}
