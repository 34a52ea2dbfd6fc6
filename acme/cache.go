package acme

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/acme/autocert"

	"github.com/gatehouse-dev/gatehouse/store"
)

// The certificate cache is a store.Certificates: autocert.DirCache by
// default, or the store given in Options.Certificates. Instances sharing a
// networked store also share a store.Locker (Options.Locker), taken around
// issuance and renewal (lock.go), so that one of them orders a name while
// the others wait and load it.
var _ store.Certificates = autocert.DirCache("")

// loggingCache is the certificate cache autocert uses: the directory cache
// (files 0600 in a 0700 directory) or the configured store, plus a log
// line for every certificate stored, which is how issuance and background
// renewal become visible.
type loggingCache struct {
	store.Certificates
	log    *slog.Logger
	stored func(key string, notAfter time.Time) // nil: nothing to tell
}

// Put stores data and logs what it was when it is a certificate: "obtained"
// when the cache had none under key, "renewed" when it replaced one.
func (c *loggingCache) Put(ctx context.Context, key string, data []byte) error {
	if !certificateKey(key) {
		return c.Certificates.Put(ctx, key, data)
	}
	event := "obtained"
	if _, err := c.Certificates.Get(ctx, key); err == nil {
		event = "renewed"
	}
	if err := c.Certificates.Put(ctx, key, data); err != nil {
		c.log.Error("cannot store a certificate in the cache; it serves until restart, then a new one is requested", "key", key, "error", err.Error())
		return err
	}
	leaf, err := leafOf(data)
	if err != nil {
		c.log.Warn("certificate stored but not readable", "key", key, "error", err.Error())
		return nil
	}
	c.log.Info("certificate stored", "event", event, "names", leaf.DNSNames, "not_after", leaf.NotAfter.UTC(),
		"issuer", leaf.Issuer.CommonName, "serial", leaf.SerialNumber.Text(16))
	if c.stored != nil {
		c.stored(key, leaf.NotAfter)
	}
	return nil
}

// prefixedCache keeps a shared store's keys of one ACME directory apart
// from another's (staging and production, say), as the per-directory
// subdirectory does for autocert.DirCache.
type prefixedCache struct {
	store.Certificates
	prefix string
}

func (c *prefixedCache) Get(ctx context.Context, key string) ([]byte, error) {
	return c.Certificates.Get(ctx, c.prefix+key)
}

func (c *prefixedCache) Put(ctx context.Context, key string, data []byte) error {
	return c.Certificates.Put(ctx, c.prefix+key, data)
}

func (c *prefixedCache) Delete(ctx context.Context, key string) error {
	return c.Certificates.Delete(ctx, c.prefix+key)
}

// certificateKey reports whether key names a certificate of a domain
// ("example.com", "example.com+rsa"), not the account key, a TLS-ALPN-01
// challenge certificate ("+token") or an HTTP-01 token ("+http-01").
// autocert reads its account key under two names: "acme_account+key",
// and on a miss the name older versions used, "acme_account.key". Taken
// for a certificate, the latter made lockingCache hold a renewal lock on
// it for renewHold, and another instance needing the account meanwhile
// waited for it while holding the lock of the name it was ordering.
func certificateKey(key string) bool {
	switch key {
	case accountKeyName, legacyAccountKeyName:
		return false
	}
	return !strings.HasSuffix(key, "+token") && !strings.HasSuffix(key, "+http-01")
}

// autocert's cache keys of the ACME account key (current and legacy).
const (
	accountKeyName       = "acme_account+key"
	legacyAccountKeyName = "acme_account.key"
)

// cacheSubdir names the cache subdirectory of an ACME directory URL, such
// as "acme-v02.api.letsencrypt.org-directory": autocert's cache keys do
// not name the CA, so without it a staging certificate would keep being
// served after switching to production.
func cacheSubdir(directoryURL string) string {
	u, err := url.Parse(directoryURL)
	s := directoryURL
	if err == nil {
		s = u.Host + u.Path
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-.")
	if name == "" {
		return "default"
	}
	return name
}
