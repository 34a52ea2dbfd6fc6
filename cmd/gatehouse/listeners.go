package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/acme"
	"github.com/gatehouse-dev/gatehouse/proxy"
	"github.com/gatehouse-dev/gatehouse/settings"
	"github.com/gatehouse-dev/gatehouse/store"
)

// redirectWriteTimeout bounds writing a response on the HTTP listener when
// TLS is on (it writes only redirects and challenge tokens).
const redirectWriteTimeout = 30 * time.Second

// listeners owns gatehouse's sockets and the http.Servers on them, from
// open to shutdown: the public listener (listen), the admin listener
// (admin_listen) and, with a tls block, the TLS listener (tls_listen),
// which then serves the public handler while listen only answers ACME
// HTTP-01 challenges and redirects to HTTPS. Every connection to the
// public handler, plain or TLS, goes through the framing check
// (proxy/framing.go). They are built from the settings the process started
// with; a reload cannot change them (restartOnly).
type listeners struct {
	settings settings.Listeners // as the process started
	log      *slog.Logger
	public   net.Listener // listen
	admin    net.Listener // admin_listen
	tls      *tlsServing  // tls_listen and the certificates; nil without TLS

	// Set by start.
	publicSrv, adminSrv *http.Server
	redirect            *http.Server // on listen with TLS
	errc                chan error   // the first error of a server ends serve
}

// openListeners binds every listener of cfg and, with a tls block,
// builds the certificates (kept in stores.Certificates, ordered under
// stores.Locker; nil members: in cache_dir, locked in this process),
// before anything serves: a config whose
// addresses cannot be bound or whose certificates cannot be loaded fails
// start with an error that names them, and nothing has been served.
func openListeners(cfg settings.Listeners, logger *slog.Logger, stores store.Set) (*listeners, error) {
	l := &listeners{settings: cfg, log: logger, errc: make(chan error, 3)}
	var err error
	if l.public, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	if l.admin, err = net.Listen("tcp", cfg.AdminListen); err != nil {
		l.public.Close()
		return nil, fmt.Errorf("admin listen %s: %w", cfg.AdminListen, err)
	}
	// Content-Length + Transfer-Encoding refused over TLS too: the TLS
	// listener wraps the decrypted HTTP/1 connections.
	if l.tls, err = openTLS(cfg, logger, proxy.FramingConn, stores); err != nil {
		l.public.Close()
		l.admin.Close()
		return nil, err
	}
	return l, nil
}

// servedHost reports whether the TLS listener serves a host name (the
// proxy's Options.ServedHost); nil without TLS.
func (l *listeners) servedHost() func(string) bool { return l.tls.servedHost() }

// reloadCertificate re-reads a static TLS certificate; it does nothing
// without one. It runs after every reload attempt.
func (l *listeners) reloadCertificate(trigger string) { l.tls.reloadCertificate(trigger) }

// certChanges delivers a value when the static certificate files changed;
// nil (never ready) without them.
func (l *listeners) certChanges() <-chan struct{} { return l.tls.certChanges() }

// errors delivers the error of a server that stopped serving.
func (l *listeners) errors() <-chan error { return l.errc }

// start serves public on the public listener (over TLS with a tls block:
// HSTS added, HTTP/2 enabled, and the redirect server, whose error
// responses writeError writes, on listen) and admin on the admin listener.
// It fails before anything serves, or serves on every listener.
func (l *listeners) start(public, admin http.Handler, writeError acme.ErrorWriter) error {
	s := l.settings
	errLog := slog.NewLogLogger(l.log.With("component", "http").Handler(), slog.LevelWarn)
	pub := &http.Server{
		Handler:           public,
		ReadHeaderTimeout: s.ReadHeaderTimeout,
		ReadTimeout:       s.ReadTimeout,
		WriteTimeout:      s.WriteTimeout,
		IdleTimeout:       s.IdleTimeout,
		MaxHeaderBytes:    httpMaxHeaderBytes(s.MaxHeaderBytes),
		ErrorLog:          errLog,
		// "OPTIONS *" goes to the pipeline (and is refused there), not to
		// Go's built-in 200 answer.
		DisableGeneralOptionsHandler: true,
		// Requests with both Content-Length and Transfer-Encoding are
		// refused; see proxy.FramingListener.
		ConnContext: proxy.FramingConnContext,
	}
	pubLn := proxy.FramingListener(l.public)
	var redirect *http.Server
	if t := l.tls; t != nil {
		// HTTP/2 through golang.org/x/net/http2, with read_header_timeout
		// bounding header blocks. ConfigureHTTP2 may modify TLSConfig, so
		// it gets its own: the listener has another.
		pub.TLSConfig = t.certs.TLSConfig()
		if err := proxy.ConfigureHTTP2(pub); err != nil {
			return fmt.Errorf("http2: %w", err)
		}
		pub.Handler = acme.HSTS(pub.Handler, t.spec.HSTSMaxAge, t.spec.HSTSIncludeSubdomains)
		pub.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			return proxy.FramingConnContext(ctx, acme.UnwrapHTTP1(c))
		}
		pubLn = t.ln
		_, port, _ := net.SplitHostPort(t.ln.Addr().String())
		redirect = &http.Server{
			Handler:                      t.certs.HTTPHandler(port, writeError),
			ReadHeaderTimeout:            pub.ReadHeaderTimeout,
			ReadTimeout:                  pub.ReadTimeout,
			WriteTimeout:                 redirectWriteTimeout,
			IdleTimeout:                  pub.IdleTimeout,
			MaxHeaderBytes:               pub.MaxHeaderBytes,
			ErrorLog:                     errLog,
			DisableGeneralOptionsHandler: true,
		}
	}
	adm := &http.Server{
		Handler:           admin,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          errLog,
	}
	l.publicSrv, l.adminSrv, l.redirect = pub, adm, redirect
	go func() { l.errc <- pub.Serve(pubLn) }()
	if redirect != nil {
		go func() { l.errc <- redirect.Serve(l.public) }()
	}
	go func() { l.errc <- adm.Serve(l.admin) }()
	if t := l.tls; t != nil {
		mode := "static"
		if t.spec.ACME != nil {
			mode = "acme"
		}
		l.log.Info("listening", "listener", "tls", "addr", t.ln.Addr().String(), "tls", mode)
	}
	l.log.Info("listening", "listener", "public", "addr", l.public.Addr().String())
	l.log.Info("listening", "listener", "admin", "addr", l.admin.Addr().String())
	return nil
}

// shutdown stops the servers gracefully within ctx: the admin listener,
// the redirect server, then the public listener (closed at once if its
// requests outlast ctx).
func (l *listeners) shutdown(ctx context.Context) {
	if l.adminSrv != nil {
		_ = l.adminSrv.Shutdown(ctx)
	}
	if l.redirect != nil {
		if err := l.redirect.Shutdown(ctx); err != nil {
			_ = l.redirect.Close()
		}
	}
	if l.publicSrv != nil {
		if err := l.publicSrv.Shutdown(ctx); err != nil {
			_ = l.publicSrv.Close()
		}
	}
}

// close releases the sockets (those no server took over too) and, with
// TLS, the certificate watchers and manager.
func (l *listeners) close() {
	_ = l.public.Close()
	_ = l.admin.Close()
	_ = l.tls.Close()
}

// httpMaxHeaderBytes converts max_header_bytes to http.Server's setting,
// which allows 4096 bytes of slack on top of its value; without the
// adjustment a 4 KiB limit would let 8 KiB through on a new connection. On a
// reused keep-alive connection net/http may have buffered up to 4 KiB more
// before the limit applies, so the limit is exact to within 4 KiB.
func httpMaxHeaderBytes(limit int) int {
	return max(limit-4096, 1)
}

// needsRestart lists the settings that differ between a and b that a
// reload cannot apply: restartOnly's, and "cluster" when the cluster block
// changed (the Redis client is built once, at start).
func needsRestart(a, b *settings.Runtime) []string {
	if a == nil || b == nil {
		return nil
	}
	out := restartOnly(a.Listeners, b.Listeners)
	if !a.Cluster.Equal(b.Cluster) {
		out = append(out, "cluster")
	}
	return out
}

// restartOnly lists the listener settings that differ between a and b: a
// reload cannot apply them.
func restartOnly(a, b settings.Listeners) []string {
	var out []string
	add := func(name string, changed bool) {
		if changed {
			out = append(out, name)
		}
	}
	add("listen", a.Listen != b.Listen)
	add("admin_listen", a.AdminListen != b.AdminListen)
	add("max_header_bytes", a.MaxHeaderBytes != b.MaxHeaderBytes)
	add("read_header_timeout", a.ReadHeaderTimeout != b.ReadHeaderTimeout)
	add("read_timeout", a.ReadTimeout != b.ReadTimeout)
	add("write_timeout", a.WriteTimeout != b.WriteTimeout)
	add("idle_timeout", a.IdleTimeout != b.IdleTimeout)
	add("shutdown_timeout", a.ShutdownTimeout != b.ShutdownTimeout)
	add("shutdown_delay", a.ShutdownDelay != b.ShutdownDelay)
	add("tls_listen", a.TLSListen != b.TLSListen)
	add("tls", !a.TLS.Equal(b.TLS))
	return out
}
