package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/acme"
	"github.com/gatehouse-dev/gatehouse/config/watch"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy"
)

// redirectWriteTimeout bounds writing a response on the HTTP listener when
// TLS is on (it writes only redirects and challenge tokens).
const redirectWriteTimeout = 30 * time.Second

// tlsServing is the HTTPS side of serve, when the config has a tls block:
// the TLS listener, which serves the public handler, and the server of the
// plain-HTTP listener, which answers ACME HTTP-01 challenges and redirects
// to HTTPS. Its methods do nothing on a nil receiver (no tls block), except
// serve, which then serves the public handler over plain HTTP as before.
type tlsServing struct {
	spec     *policy.TLSSpec
	certs    *acme.Manager
	ln       net.Listener // TLS; handshakes are complete when Accept returns
	redirect *http.Server // on the HTTP listener; nil until serve
	log      *slog.Logger // component=tls
	base     *slog.Logger

	watchers  []*watch.Watcher
	changes   chan struct{} // static certificate files changed
	closeOnce sync.Once
}

// startTLS builds the certificates and opens the TLS listener of settings;
// it returns nil and no error when TLS is off.
func startTLS(settings policy.Server, logger *slog.Logger) (*tlsServing, error) {
	if settings.TLS == nil {
		return nil, nil
	}
	log := logger.With("component", "tls")
	certs, err := acme.New(settings.TLS, acme.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	raw, err := net.Listen("tcp", settings.TLSListen)
	if err != nil {
		_ = certs.Close()
		return nil, fmt.Errorf("tls listen %s: %w", settings.TLSListen, err)
	}
	t := &tlsServing{
		spec:  settings.TLS,
		certs: certs,
		ln: acme.NewListener(raw, certs.TLSConfig(), acme.ListenerOptions{
			HandshakeTimeout: handshakeTimeout(settings),
			WrapHTTP1:        proxy.FramingConn, // Content-Length + Transfer-Encoding refused over TLS too
			Logger:           log,
		}),
		log:     log,
		base:    logger,
		changes: make(chan struct{}, 1),
	}
	t.watchCertificateFiles()
	return t, nil
}

// handshakeTimeout is the shortest positive of the read and write
// timeouts, as net/http uses for TLS handshakes.
func handshakeTimeout(s policy.Server) time.Duration {
	var d time.Duration
	for _, v := range []time.Duration{s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout} {
		if v > 0 && (d == 0 || v < d) {
			d = v
		}
	}
	return d
}

// watchCertificateFiles watches a static certificate's files, so that a
// renewed certificate (certbot, cert-manager, a Kubernetes Secret update)
// is picked up without a reload. A watch that cannot start is logged; the
// files are still re-read on every reload.
func (t *tlsServing) watchCertificateFiles() {
	for _, f := range t.certs.CertificateFiles() {
		w, err := watch.New(f, watch.Options{Logger: t.log})
		if err != nil {
			t.log.Warn("cannot watch a certificate file; it is re-read on reload (SIGHUP, POST /admin/reload)", "file", f, "error", err.Error())
			continue
		}
		t.watchers = append(t.watchers, w)
		go func() {
			for range w.Changes() {
				select {
				case t.changes <- struct{}{}:
				default: // one pending notification is enough
				}
			}
		}()
	}
}

// servedHost reports whether the TLS listener serves a host name (the
// proxy's Options.ServedHost); nil without TLS.
func (t *tlsServing) servedHost() func(string) bool {
	if t == nil {
		return nil
	}
	return t.certs.KnownHost
}

// serve starts public on the TLS listener (HSTS added, HTTP/2 enabled) and
// the redirect server on httpLn, whose error responses writeError writes.
// Without TLS, public serves httpLn.
func (t *tlsServing) serve(public *http.Server, httpLn net.Listener, writeError acme.ErrorWriter, errc chan<- error) error {
	if t == nil {
		go func() { errc <- public.Serve(proxy.FramingListener(httpLn)) }()
		return nil
	}
	// HTTP/2 through golang.org/x/net/http2, with read_header_timeout
	// bounding header blocks. ConfigureHTTP2 may modify TLSConfig, so it
	// gets its own: the listener has another.
	public.TLSConfig = t.certs.TLSConfig()
	if err := proxy.ConfigureHTTP2(public); err != nil {
		return fmt.Errorf("http2: %w", err)
	}
	public.Handler = acme.HSTS(public.Handler, t.spec.HSTSMaxAge, t.spec.HSTSIncludeSubdomains)
	public.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return proxy.FramingConnContext(ctx, acme.UnwrapHTTP1(c))
	}
	_, port, _ := net.SplitHostPort(t.ln.Addr().String())
	t.redirect = &http.Server{
		Handler:                      t.certs.HTTPHandler(port, writeError),
		ReadHeaderTimeout:            public.ReadHeaderTimeout,
		ReadTimeout:                  public.ReadTimeout,
		WriteTimeout:                 redirectWriteTimeout,
		IdleTimeout:                  public.IdleTimeout,
		MaxHeaderBytes:               public.MaxHeaderBytes,
		ErrorLog:                     public.ErrorLog,
		DisableGeneralOptionsHandler: true,
	}
	mode := "static"
	if t.spec.ACME != nil {
		mode = "acme"
	}
	t.base.Info("listening", "listener", "tls", "addr", t.ln.Addr().String(), "tls", mode)
	go func() { errc <- public.Serve(t.ln) }()
	go func() { errc <- t.redirect.Serve(httpLn) }()
	return nil
}

// certChanges delivers a value when the static certificate files changed;
// nil (never ready) without them.
func (t *tlsServing) certChanges() <-chan struct{} {
	if t == nil || len(t.watchers) == 0 {
		return nil
	}
	return t.changes
}

// reloadCertificate re-reads a static certificate (ACME: nothing to do).
// Failures are logged by the acme package; the old certificate serves on.
func (t *tlsServing) reloadCertificate(trigger string) {
	if t == nil {
		return
	}
	if changed, err := t.certs.ReloadCertificate(); changed {
		t.log.Info("certificate reloaded", "trigger", trigger)
	} else if err != nil {
		t.log.Debug("certificate reload failed", "trigger", trigger, "error", err.Error())
	}
}

// shutdown stops the redirect server gracefully.
func (t *tlsServing) shutdown(ctx context.Context) {
	if t == nil || t.redirect == nil {
		return
	}
	if err := t.redirect.Shutdown(ctx); err != nil {
		_ = t.redirect.Close()
	}
}

// Close releases the watchers, the listener and the certificate manager.
func (t *tlsServing) Close() error {
	if t == nil {
		return nil
	}
	t.closeOnce.Do(func() {
		for _, w := range t.watchers {
			_ = w.Close()
		}
		_ = t.ln.Close()
		_ = t.certs.Close()
	})
	return nil
}
