package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	xacme "golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/settings"
	"github.com/gatehouse-dev/gatehouse/store"
	"github.com/gatehouse-dev/gatehouse/store/memstore"
)

// Bounds of the ACME client.
const (
	// acmeRequestTimeout bounds one HTTP request to the ACME directory.
	acmeRequestTimeout = 60 * time.Second
	// finishHandshake is the time a client gets to complete its handshake
	// after it waited for a certificate to be issued.
	finishHandshake = 10 * time.Second
	// expiryCheckEvery is how often cached certificates are checked for a
	// renewal that did not happen.
	expiryCheckEvery = time.Hour
)

// Errors of a refused handshake. They reach the client only as a TLS alert.
var (
	ErrNoServerName = errors.New("acme: handshake without server name (SNI); certificates exist only for the configured domains")
	ErrUnknownName  = errors.New("acme: server name is not one of the configured domains")
)

// Options configures New.
type Options struct {
	// Logger receives certificate events and refused handshakes; nil
	// discards them.
	Logger *slog.Logger
	// Certificates keeps the ACME account key, the certificates and the
	// challenge tokens. Nil means autocert.DirCache in a subdirectory of
	// the spec's cache_dir per ACME directory URL. A given store is used
	// under a key prefix naming the ACME directory (the same name as that
	// subdirectory), so that CAs never mix, and cache_dir is not used.
	Certificates store.Certificates
	// Locker is taken around ordering or renewing a certificate, so that
	// of several instances sharing Certificates one orders a name while
	// the others wait and load it (see lock.go). Nil means a lock within
	// this process: enough for one instance, whatever the store.
	Locker store.Locker
}

// Manager provides the TLS listener's certificates, in ACME or static
// mode (see the package documentation). Build it with New and release it
// with Close.
type Manager struct {
	spec *settings.TLS
	log  *slog.Logger

	// ACME mode.
	auto     *autocert.Manager
	cache    store.Certificates // the certificate cache, without logging
	issue    *issuance          // locks around ordering and renewal
	domains  map[string]bool
	rejected *logLimiter // handshakes for names we do not serve
	failed   *logLimiter // configured names without a certificate
	expiry   expiries    // of the cached certificates, for Expiry

	transport *http.Transport // of the ACME client

	// Static mode.
	static *staticCert

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// New builds a Manager from spec. In ACME mode it creates the cache
// directory (0700) when missing and checks that it can write there; in
// static mode it loads the certificate. Nothing is requested from the CA
// until the first handshake for a configured name.
func New(spec *settings.TLS, opts Options) (*Manager, error) {
	if spec == nil {
		return nil, errors.New("acme: no TLS settings")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{spec: spec, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	if spec.ACME == nil {
		close(m.done)
		m.static = &staticCert{certFile: spec.CertFile, keyFile: spec.KeyFile, log: log}
		if _, err := m.static.load(); err != nil {
			return nil, err
		}
		return m, nil
	}
	locker := opts.Locker
	if locker == nil {
		locker = memstore.NewLocker()
	}
	if err := m.setupACME(spec.ACME, opts.Certificates, locker); err != nil {
		return nil, err
	}
	go m.watchExpiry()
	return m, nil
}

func (m *Manager) setupACME(a *settings.ACME, certs store.Certificates, locker store.Locker) error {
	dir := filepath.Join(a.CacheDir, cacheSubdir(a.DirectoryURL))
	if certs == nil {
		if err := prepareCacheDir(a.CacheDir, dir, m.log); err != nil {
			return err
		}
		m.cache = autocert.DirCache(dir)
	} else {
		m.cache = &prefixedCache{Certificates: certs, prefix: cacheSubdir(a.DirectoryURL) + "/"}
		dir = "(store)"
	}
	m.domains = make(map[string]bool, len(a.Domains))
	for _, d := range a.Domains {
		m.domains[policy.FoldHostName(d)] = true
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: a.CARoots, MinVersion: tls.VersionTLS12}
	m.transport = tr
	m.issue = newIssuance(locker, cacheSubdir(a.DirectoryURL), m.log)
	m.auto = &autocert.Manager{
		Prompt: autocert.AcceptTOS,
		Cache: &lockingCache{
			Certificates: &loggingCache{Certificates: m.cache, log: m.log, stored: func(key string, notAfter time.Time) {
				m.expiry.seen(m.domains, key, notAfter)
			}},
			is:  m.issue,
			now: time.Now,
		},
		HostPolicy: m.hostPolicy,
		Email:      a.Email,
		Client: &xacme.Client{
			DirectoryURL: a.DirectoryURL,
			HTTPClient:   &http.Client{Transport: tr, Timeout: acmeRequestTimeout},
			UserAgent:    "gatehouse",
		},
	}
	if a.EABKeyID != "" {
		m.auto.ExternalAccountBinding = &xacme.ExternalAccountBinding{KID: a.EABKeyID, Key: a.EABKey}
	}
	m.rejected = newLogLimiter(10, time.Minute)
	m.failed = newLogLimiter(10, time.Minute)
	m.log.Info("acme ready", "directory", a.DirectoryURL, "domains", a.Domains, "cache_dir", dir)
	return nil
}

// prepareCacheDir creates dir (and root) with mode 0700 when missing and
// checks that files can be created in it. An existing root that others
// may read gets a warning: it holds private keys.
func prepareCacheDir(root, dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("acme cache_dir: %w", err)
	}
	for _, d := range []string{root, dir} {
		if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o077 != 0 {
			log.Warn("acme cache directory is open to other users; it holds private keys (chmod 700)", "dir", d, "mode", st.Mode().Perm().String())
		}
	}
	f, err := os.CreateTemp(dir, ".write-check-")
	if err != nil {
		return fmt.Errorf("acme cache_dir is not writable: %w", err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// Close stops the background expiry check and closes idle connections to
// the CA. autocert's renewal timers are not stoppable; they end with the
// process. Close is idempotent.
func (m *Manager) Close() error {
	m.closeOnce.Do(func() { close(m.stop) })
	<-m.done
	if m.transport != nil {
		m.transport.CloseIdleConnections()
	}
	return nil
}

// TLSConfig returns the configuration of the TLS listener: TLS 1.2 or
// later, HTTP/2 and HTTP/1.1 through ALPN (plus acme-tls/1 in ACME mode),
// and the Manager's certificates. Each call returns a new value.
func (m *Manager) TLSConfig() *tls.Config {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
	}
	if m.auto != nil {
		cfg.NextProtos = append(cfg.NextProtos, xacme.ALPNProto)
		cfg.GetCertificate = m.getACMECertificate
	} else {
		cfg.GetCertificate = m.static.get
	}
	return cfg
}

// KnownHost reports whether host (lower case, no port) is served over
// HTTPS: one of the domains in ACME mode, a name the certificate covers in
// static mode.
func (m *Manager) KnownHost(host string) bool {
	host = policy.FoldHostName(host)
	if m.auto != nil {
		return m.domains[host]
	}
	return m.static.covers(host)
}

// ReloadCertificate re-reads the static certificate and key. It reports
// whether the certificate changed; on error the previous one keeps
// serving. In ACME mode it does nothing.
func (m *Manager) ReloadCertificate() (bool, error) {
	if m.static == nil {
		return false, nil
	}
	return m.static.load()
}

// CertificateFiles returns the static certificate and key files, to watch
// for changes; nil in ACME mode.
func (m *Manager) CertificateFiles() []string {
	if m.static == nil {
		return nil
	}
	return []string{m.spec.CertFile, m.spec.KeyFile}
}

// hostPolicy allows exactly the configured domains. autocert calls it
// before any order, and for HTTP-01 challenge requests.
func (m *Manager) hostPolicy(_ context.Context, host string) error {
	if m.domains[policy.FoldHostName(host)] {
		return nil
	}
	return ErrUnknownName
}

// getACMECertificate answers every handshake in ACME mode. A CA validating
// TLS-ALPN-01 (ALPN exactly "acme-tls/1") gets the challenge certificate
// of an order in progress or an error; it never starts an order. Any other
// handshake must name a configured domain; otherwise it fails at once.
func (m *Manager) getACMECertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == xacme.ALPNProto {
		cert, err := m.auto.GetCertificate(hello)
		if err != nil {
			m.log.Debug("tls-alpn-01 challenge handshake without a pending challenge", "sni", hello.ServerName, "remote", remote(hello), "error", err.Error())
		}
		return cert, err
	}
	name := policy.FoldHostName(hello.ServerName)
	if !m.domains[name] {
		err := ErrUnknownName
		if name == "" {
			err = ErrNoServerName
		}
		if ok, dropped := m.rejected.allow(time.Now()); ok {
			m.log.Warn("tls handshake refused", "sni", hello.ServerName, "remote", remote(hello), "error", err.Error(), "suppressed", dropped)
		}
		return nil, err
	}
	start := time.Now()
	var cert *tls.Certificate
	var err error
	if key := certKeyOf(name, hello); m.issue.isReady(key) {
		cert, err = m.auto.GetCertificate(hello)
	} else {
		cert, err = m.firstCertificate(hello, name, key)
	}
	if err != nil {
		if ok, dropped := m.failed.allow(time.Now()); ok {
			m.log.Warn("no certificate for a configured domain", "sni", hello.ServerName, "remote", remote(hello), "error", err.Error(), "suppressed", dropped)
		}
		return nil, err
	}
	if time.Since(start) > time.Second && hello.Conn != nil {
		// The client waited for the CA; give it time to finish.
		_ = hello.Conn.SetDeadline(time.Now().Add(finishHandshake))
	}
	return cert, nil
}

// watchExpiry warns, every expiryCheckEvery, about cached certificates
// that autocert should have renewed long ago (it starts at a third of the
// lifetime left, and retries failures every half hour or so): renewal
// failures are otherwise silent.
func (m *Manager) watchExpiry() {
	defer close(m.done)
	t := time.NewTicker(expiryCheckEvery)
	defer t.Stop()
	for {
		m.checkExpiry(time.Now())
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
	}
}

// checkExpiry logs a warning for each configured domain whose cached
// certificate has less than a sixth of its lifetime left, and records
// every cached certificate's expiry for Expiry.
func (m *Manager) checkExpiry(now time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, d := range m.spec.ACME.Domains {
		for _, key := range []string{d, d + "+rsa"} {
			data, err := m.cache.Get(ctx, key)
			if err != nil {
				continue
			}
			leaf, err := leafOf(data)
			if err != nil {
				continue
			}
			m.expiry.seen(m.domains, key, leaf.NotAfter)
			life := leaf.NotAfter.Sub(leaf.NotBefore)
			if left := leaf.NotAfter.Sub(now); left < life/6 {
				m.log.Warn("certificate is close to expiry and has not been renewed; check the logs for ACME errors and that ports 80/443 reach gatehouse",
					"names", leaf.DNSNames, "not_after", leaf.NotAfter.UTC(), "left", left.Round(time.Second).String())
			}
		}
	}
}

func remote(hello *tls.ClientHelloInfo) string {
	if hello.Conn == nil {
		return ""
	}
	return hello.Conn.RemoteAddr().String()
}

// leafOf parses the first certificate of PEM data as autocert stores it
// (private key first, then the chain).
func leafOf(data []byte) (*x509.Certificate, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no certificate in the PEM data")
		}
		if b.Type == "CERTIFICATE" {
			return x509.ParseCertificate(b.Bytes)
		}
	}
}
