package settings

import (
	"bytes"
	"crypto/x509"
	"slices"
	"time"
)

// TLS configures HTTPS on Listeners.TLSListen: automatic certificates
// (ACME) or a static certificate and key from files. Exactly one of ACME
// and CertFile/KeyFile is set. It is read when the listeners start; a
// reload that changes it takes effect only after a restart.
type TLS struct {
	// ACME obtains and renews certificates automatically; nil with a static
	// certificate.
	ACME *ACME
	// CertFile and KeyFile are absolute paths of a PEM certificate chain
	// and its private key. They are re-read when the files change.
	CertFile string
	KeyFile  string
	// HSTSMaxAge is the max-age of the Strict-Transport-Security header on
	// every HTTPS response; 0 sends no header.
	HSTSMaxAge time.Duration
	// HSTSIncludeSubdomains adds includeSubDomains to that header.
	HSTSIncludeSubdomains bool
	Origin                string
}

// ACME configures automatic certificates from an ACME CA such as
// Let's Encrypt, through the TLS-ALPN-01 and HTTP-01 challenges.
type ACME struct {
	// Email is the contact address of the ACME account; "" = none.
	Email string
	// Domains are the only names a certificate is ever requested for:
	// lower case, without a trailing dot, ASCII (IDNs in their xn-- form),
	// no wildcards and no IP addresses.
	Domains []string
	// DirectoryURL is the ACME directory (Let's Encrypt production,
	// staging, or another CA).
	DirectoryURL string
	// CacheDir is the absolute path of the directory that keeps the account
	// key and the certificates across restarts.
	CacheDir string
	// CARoots verifies the TLS certificate of the directory; nil = the
	// system roots. CARootsFile is the file they came from ("" = none).
	CARoots     *x509.CertPool
	CARootsFile string
	// EABKeyID and EABKey are the External Account Binding credentials
	// some CAs require; both empty when unused.
	EABKeyID string
	EABKey   []byte
}

// Clone returns a deep copy of t (CARoots is shared: a CertPool is not
// modified after it is built). Clone of nil is nil.
func (t *TLS) Clone() *TLS {
	if t == nil {
		return nil
	}
	c := *t
	if t.ACME != nil {
		a := *t.ACME
		a.Domains = slices.Clone(t.ACME.Domains)
		a.EABKey = bytes.Clone(t.ACME.EABKey)
		c.ACME = &a
	}
	return &c
}

// Equal reports whether t and o configure the same TLS, ignoring Origin.
// Two nil specs are equal.
func (t *TLS) Equal(o *TLS) bool {
	if t == nil || o == nil {
		return t == o
	}
	if t.CertFile != o.CertFile || t.KeyFile != o.KeyFile || t.HSTSMaxAge != o.HSTSMaxAge ||
		t.HSTSIncludeSubdomains != o.HSTSIncludeSubdomains || (t.ACME == nil) != (o.ACME == nil) {
		return false
	}
	if t.ACME == nil {
		return true
	}
	a, b := t.ACME, o.ACME
	return a.Email == b.Email && slices.Equal(a.Domains, b.Domains) && a.DirectoryURL == b.DirectoryURL &&
		a.CacheDir == b.CacheDir && a.CARootsFile == b.CARootsFile && poolsEqual(a.CARoots, b.CARoots) &&
		a.EABKeyID == b.EABKeyID && bytes.Equal(a.EABKey, b.EABKey)
}

func poolsEqual(a, b *x509.CertPool) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
}
