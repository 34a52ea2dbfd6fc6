package acme

import (
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// expiries remembers the NotAfter of the certificate of each configured
// ACME name, as last seen in the cache (at start and every
// expiryCheckEvery by checkExpiry, and whenever a certificate is stored):
// what Manager.Expiry reports for the metrics. Of a name's ECDSA and RSA
// certificates, the later expiry counts (the other may be a leftover that
// no client asks for any more).
type expiries struct {
	mu sync.Mutex
	m  map[string]time.Time
}

// seen records the expiry of the certificate cached under key (a name,
// or name+"+rsa") when key names a configured domain.
func (e *expiries) seen(domains map[string]bool, key string, notAfter time.Time) {
	name := policy.FoldHostName(strings.TrimSuffix(key, "+rsa"))
	if !domains[name] {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = make(map[string]time.Time)
	}
	if old, ok := e.m[name]; !ok || notAfter.After(old) {
		e.m[name] = notAfter
	}
}

func (e *expiries) snapshot() map[string]time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]time.Time, len(e.m))
	for k, v := range e.m {
		out[k] = v
	}
	return out
}

// Expiry returns when the certificate of each name expires: in ACME mode
// the configured domains that have a certificate in the cache (names
// without one are absent), in static mode the names (and IP addresses)
// of the loaded certificate. For gatehouse_tls_certificate_expiry_timestamp_seconds.
func (m *Manager) Expiry() map[string]time.Time {
	if m.static != nil {
		c := m.static.cur.Load()
		if c == nil || c.Leaf == nil {
			return nil
		}
		out := make(map[string]time.Time)
		for _, n := range certNames(c.Leaf) {
			out[n] = c.Leaf.NotAfter
		}
		return out
	}
	return m.expiry.snapshot()
}
