package main

import (
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/acme"
	"github.com/gatehouse-dev/gatehouse/config/watch"
	"github.com/gatehouse-dev/gatehouse/settings"
	"github.com/gatehouse-dev/gatehouse/store"
)

// tlsServing is the TLS side of the listeners, when the config has a tls
// block: the certificates, the TLS listener and the watchers of a static
// certificate's files. Its methods do nothing on a nil receiver (no tls
// block).
type tlsServing struct {
	spec  *settings.TLS
	certs *acme.Manager
	ln    net.Listener // TLS; handshakes are complete when Accept returns
	log   *slog.Logger // component=tls

	watchers  []*watch.Watcher
	changes   chan struct{} // static certificate files changed
	closeOnce sync.Once
}

// openTLS builds the certificates and opens the TLS listener of cfg,
// whose decrypted HTTP/1 connections wrapHTTP1 wraps; it returns nil and no
// error when TLS is off. A non-nil cache keeps the ACME account and
// certificates instead of cache_dir (the cluster's shared store).
func openTLS(cfg settings.Listeners, logger *slog.Logger, wrapHTTP1 func(net.Conn) net.Conn, stores store.Set) (*tlsServing, error) {
	if cfg.TLS == nil {
		return nil, nil
	}
	log := logger.With("component", "tls")
	certs, err := acme.New(cfg.TLS, acme.Options{Logger: log, Certificates: stores.Certificates, Locker: stores.Locker})
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	raw, err := net.Listen("tcp", cfg.TLSListen)
	if err != nil {
		_ = certs.Close()
		return nil, fmt.Errorf("tls listen %s: %w", cfg.TLSListen, err)
	}
	t := &tlsServing{
		spec:  cfg.TLS,
		certs: certs,
		ln: acme.NewListener(raw, certs.TLSConfig(), acme.ListenerOptions{
			HandshakeTimeout: handshakeTimeout(cfg),
			WrapHTTP1:        wrapHTTP1,
			Logger:           log,
		}),
		log:     log,
		changes: make(chan struct{}, 1),
	}
	t.watchCertificateFiles()
	return t, nil
}

// handshakeTimeout is the shortest positive of the read and write
// timeouts, as net/http uses for TLS handshakes.
func handshakeTimeout(s settings.Listeners) time.Duration {
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
