package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"sync"
	"time"
)

// Key identifies a pooled upstream transport: the upstream's scheme and
// host, its timeout, and which of its two transports.
//
// Each upstream gets two: requests without a body go through a Watched
// transport whose connections enforce the upstream timeout through the
// watchdog (two atomic stores per request); requests with a body use
// http.Transport's ResponseHeaderTimeout, which starts only once the whole
// body is written, so a slow client upload never counts against the
// upstream. (The watchdog cannot tell a pause in a streaming body from an
// upstream that does not answer.)
type Key struct {
	Scheme, Host string
	Timeout      time.Duration
	// Watched: the transport for requests without a body (see above);
	// for plain-HTTP upstreams it takes the HTTP/1 fast path.
	Watched bool
}

// maxResponseHeaderBytes bounds an upstream response's header (status line,
// fields, and any 1xx responses nobody looked at) on both transports.
const maxResponseHeaderBytes = 1 << 20

// Transport is an upstream transport with a connection pool.
type Transport interface {
	http.RoundTripper
	CloseIdleConnections()
}

// Pool holds the upstream transports, one per Key, and the watchdog that
// times their connections. It outlives configurations: a reload keeps the
// transports (and their keep-alive connections) of the upstreams it keeps
// and retires the others (Retire).
type Pool struct {
	roots    *x509.CertPool
	watchdog *watchdog

	mu         sync.Mutex
	transports map[Key]Transport
}

// NewPool returns an empty Pool whose TLS connections verify upstream
// certificates against roots (nil: the system roots). Close stops it.
func NewPool(roots *x509.CertPool) *Pool {
	return &Pool{roots: roots, watchdog: newWatchdog(), transports: make(map[Key]Transport)}
}

// Transport returns the pooled transport for k, creating it once. Watched
// transports to plain-HTTP upstreams carry GET, HEAD and OPTIONS themselves
// (HTTP1Transport) and the rest through http.Transport.
func (p *Pool) Transport(k Key) Transport {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.transports[k]; ok {
		return t
	}
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy: nil, // never route upstream traffic through $HTTP_PROXY
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
	timeout := k.Timeout
	if !k.Watched {
		t.ResponseHeaderTimeout = k.Timeout
		timeout = 0
	}
	t.DialContext = p.watchdog.dialer(d.DialContext, timeout)
	t.DialTLSContext = p.watchdog.dialer(tlsDialer(d, p.roots), timeout)
	if k.Watched && k.Scheme == "http" && FastPathSupported {
		h1 := newHTTP1Transport(t, k.Host)
		p.transports[k] = h1
		return h1
	}
	p.transports[k] = t
	return t
}

// Retire closes and forgets the transports of old keys that current does
// not hold: the upstreams a reload removed or changed, once no request of
// the old configuration runs. It may run more than once for the same keys.
func (p *Pool) Retire(old, current []Key) {
	inUse := make(map[Key]bool, len(current))
	for _, k := range current {
		inUse[k] = true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range old {
		if inUse[k] {
			continue
		}
		if t, ok := p.transports[k]; ok {
			delete(p.transports, k)
			t.CloseIdleConnections()
		}
	}
}

// Transports returns a copy of the pooled transports by key (for tests
// and diagnostics).
func (p *Pool) Transports() map[Key]Transport {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := make(map[Key]Transport, len(p.transports))
	for k, t := range p.transports {
		m[k] = t
	}
	return m
}

// Close stops the watchdog and closes every idle connection. Connections
// in use close when their requests end.
func (p *Pool) Close() {
	p.watchdog.close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.transports {
		t.CloseIdleConnections()
	}
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
