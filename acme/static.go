package acme

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// staticCert serves a certificate and key from PEM files. The pair in use
// is replaced atomically by load; handshakes never see a half-loaded one.
type staticCert struct {
	certFile, keyFile string
	log               *slog.Logger

	mu  sync.Mutex // serializes load
	cur atomic.Pointer[tls.Certificate]
}

// load reads the files and, when they hold a different usable pair,
// switches to it. It reports whether the certificate changed. A failure
// leaves the current certificate in service: during a rotation the two
// files may briefly not match, and the next change event retries.
func (s *staticCert) load() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pair, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		err = fmt.Errorf("load certificate %s and key %s: %w", s.certFile, s.keyFile, err)
		if s.cur.Load() != nil {
			s.log.Error("certificate files not loaded; the previous certificate keeps serving", "error", err.Error())
		}
		return false, err
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return false, fmt.Errorf("parse certificate %s: %w", s.certFile, err)
		}
	}
	if old := s.cur.Load(); old != nil && bytes.Equal(old.Certificate[0], pair.Certificate[0]) {
		return false, nil
	}
	s.cur.Store(&pair)
	leaf := pair.Leaf
	s.log.Info("certificate loaded", "names", certNames(leaf), "not_after", leaf.NotAfter.UTC(),
		"issuer", leaf.Issuer.CommonName, "serial", leaf.SerialNumber.Text(16), "file", s.certFile)
	if now := time.Now(); now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		s.log.Warn("the loaded certificate is not valid now; clients will refuse it", "not_before", leaf.NotBefore.UTC(), "not_after", leaf.NotAfter.UTC())
	}
	return true, nil
}

// get is the tls.Config GetCertificate hook: the same certificate for
// every handshake, whatever the SNI.
func (s *staticCert) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := s.cur.Load(); c != nil {
		return c, nil
	}
	return nil, errors.New("acme: no certificate loaded")
}

// covers reports whether the current certificate is valid for host (a
// DNS name, possibly matched by a wildcard, or an IP address).
func (s *staticCert) covers(host string) bool {
	c := s.cur.Load()
	return c != nil && host != "" && c.Leaf.VerifyHostname(host) == nil
}

// certNames lists the DNS names and IP addresses of a certificate.
func certNames(c *x509.Certificate) []string {
	names := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}
