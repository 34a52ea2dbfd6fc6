package acme

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme/autocert"

	"github.com/gatehouse-dev/gatehouse/store"
)

// Issuance under a lock. Several instances sharing one store.Certificates
// must not each order the same name. autocert orders in two places: the
// first handshake for a name whose certificate is neither in its memory
// nor in the cache, and its renewal timer, which reads the cache first
// and orders only when the cached certificate is still due. Both are
// wrapped here, around the store.Locker of Options:
//
//   - First handshake: before handing a name to autocert for the first
//     time, the Manager takes the name's lock, so autocert's cache read
//     sees what another instance stored meanwhile and only the holder
//     orders. The lock is taken outside autocert (whose cache read holds
//     a mutex that every handshake needs).
//   - Renewal: the cache (lockingCache) notices autocert's read of a
//     certificate that is missing or due for renewal, takes the lock, and
//     reads again: a certificate another instance renewed meanwhile is
//     returned (autocert adopts it); otherwise the read answers a miss, so
//     that autocert orders at once, and the lock is kept until autocert
//     stores the new certificate, or until renewHold (autocert's renewal
//     gives up after ten minutes). If the lock or the store cannot
//     be reached, the read waits until autocert's context ends, so that
//     autocert's order then fails at once: no instance orders blind.
//
// A lost lock (see store.Locker) is logged at error; the order in flight
// goes on, and another instance may order too.

// Bounds of the issuance lock.
const (
	// issueWait bounds the wait for a name's lock plus autocert's first
	// order in a handshake (autocert's own bound is five minutes).
	issueWait = 5 * time.Minute
	// renewHold is how long a renewal keeps the lock when autocert does
	// not store a new certificate: autocert's renewal context lasts ten
	// minutes.
	renewHold = 10*time.Minute + 30*time.Second
	// renewMargin (at most; a hundredth of the renewal window for short
	// certificates) makes the lock's notion of "due" a little earlier
	// than autocert's, so that autocert never orders without it.
	renewMargin = time.Minute
)

// hold is a lock this process holds on one certificate key.
type hold struct {
	unlock   func()
	untilPut bool        // a renewal's: released by the Put of the key or the timer
	timer    *time.Timer // releases an untilPut hold that saw no Put
}

// issuance hands out the locks of certificate keys and remembers which
// keys autocert holds in memory.
type issuance struct {
	locker store.Locker
	scope  string // the cache subdirectory: locks of one ACME directory
	log    *slog.Logger

	ready sync.Map // certificate key → struct{}: autocert has it in memory

	mu     sync.Mutex
	holds  map[string]*hold
	passes map[string]bool        // keys whose next cache read goes through as it is
	first  map[string]*sync.Mutex // serializes loadFirst per key
}

func newIssuance(locker store.Locker, scope string, log *slog.Logger) *issuance {
	return &issuance{locker: locker, scope: scope, log: log, holds: map[string]*hold{}, passes: map[string]bool{}, first: map[string]*sync.Mutex{}}
}

// lock takes key's lock and records the hold, to be ended by release or,
// once marked untilPut, by the Put of key.
func (is *issuance) lock(ctx context.Context, key string, untilPut bool) error {
	unlock, lost, err := is.locker.Lock(ctx, is.scope+"/"+key)
	if err != nil {
		return err
	}
	released := make(chan struct{})
	var once sync.Once
	h := &hold{unlock: func() {
		once.Do(func() {
			close(released)
			unlock()
		})
	}}
	go func() {
		select {
		case <-lost:
			is.log.Error("certificate lock lost while ordering or renewing; another instance may order the same certificate", "key", key)
		case <-released:
		}
	}()
	is.mu.Lock()
	defer is.mu.Unlock()
	is.holds[key] = h
	if untilPut {
		h.untilPut = true
		h.timer = time.AfterFunc(renewHold, func() { is.release(key, h) })
	}
	return nil
}

// renewing reports whether this process holds key's lock for a renewal.
func (is *issuance) renewing(key string) bool {
	is.mu.Lock()
	defer is.mu.Unlock()
	h := is.holds[key]
	return h != nil && h.untilPut
}

// release ends the hold h of key.
func (is *issuance) release(key string, h *hold) {
	is.mu.Lock()
	if is.holds[key] == h {
		delete(is.holds, key)
	}
	is.mu.Unlock()
	if h.timer != nil {
		h.timer.Stop()
	}
	h.unlock()
}

// current returns key's hold, or nil.
func (is *issuance) current(key string) *hold {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.holds[key]
}

// stored ends a renewal's hold of key: its new certificate is stored.
func (is *issuance) stored(key string) {
	is.mu.Lock()
	h := is.holds[key]
	is.mu.Unlock()
	if h != nil && h.untilPut {
		is.release(key, h)
	}
}

// isReady reports whether autocert holds key's certificate in memory.
func (is *issuance) isReady(key string) bool {
	_, ok := is.ready.Load(key)
	return ok
}

// setPass lets the next cache read of key through as it is; takePass
// consumes it.
func (is *issuance) setPass(key string, on bool) {
	is.mu.Lock()
	defer is.mu.Unlock()
	if on {
		is.passes[key] = true
	} else {
		delete(is.passes, key)
	}
}

func (is *issuance) firstMutex(key string) *sync.Mutex {
	is.mu.Lock()
	defer is.mu.Unlock()
	mu := is.first[key]
	if mu == nil {
		mu = &sync.Mutex{}
		is.first[key] = mu
	}
	return mu
}

func (is *issuance) takePass(key string) bool {
	is.mu.Lock()
	defer is.mu.Unlock()
	ok := is.passes[key]
	delete(is.passes, key)
	return ok
}

// firstCertificate gets key's certificate from autocert for the first
// time in this process. A usable certificate in the store (another
// instance's) is handed to autocert without a lock. Otherwise the
// Manager takes key's lock, so that autocert loads what another instance
// stored meanwhile, or orders it while the others wait. In both cases
// autocert's one cache read of key goes through as it is (its renewal's
// later reads take the renewal path of lockingCache).
func (m *Manager) firstCertificate(hello *tls.ClientHelloInfo, name, key string) (*tls.Certificate, error) {
	ctx, cancel := context.WithTimeout(context.Background(), issueWait)
	defer cancel()
	if data, err := m.cache.Get(ctx, key); err == nil && usable(data, name, time.Now()) {
		return m.loadFirst(hello, key)
	} else if err != nil && !errors.Is(err, autocert.ErrCacheMiss) {
		return nil, err
	}
	if err := m.issue.lock(ctx, key, false); err != nil {
		return nil, err
	}
	h := m.issue.current(key)
	defer m.issue.release(key, h)
	return m.loadFirst(hello, key)
}

// loadFirst hands key to autocert, once per key at a time in this
// process, with a pass for autocert's cache read.
func (m *Manager) loadFirst(hello *tls.ClientHelloInfo, key string) (*tls.Certificate, error) {
	mu := m.issue.firstMutex(key)
	mu.Lock()
	defer mu.Unlock()
	if m.issue.isReady(key) {
		// Another handshake of this process got it meanwhile.
		return m.auto.GetCertificate(hello)
	}
	m.issue.setPass(key, true)
	defer m.issue.setPass(key, false)
	cert, err := m.auto.GetCertificate(hello)
	if err == nil {
		m.issue.ready.Store(key, struct{}{})
	}
	return cert, err
}

// usable reports whether data is a certificate autocert will accept for
// name now: a key pair that matches, for name, not expired.
func usable(data []byte, name string, now time.Time) bool {
	pair, err := tls.X509KeyPair(data, data)
	if err != nil {
		return false
	}
	leaf := pair.Leaf
	return leaf != nil && leaf.VerifyHostname(name) == nil && now.After(leaf.NotBefore) && now.Before(leaf.NotAfter)
}

// lockingCache is the cache autocert sees: see the comment at the top of
// this file.
type lockingCache struct {
	store.Certificates
	is  *issuance
	now func() time.Time
}

// Get passes everything through except autocert's renewal read of a
// certificate that is missing or due, outside a renewal this process
// already holds the lock of: that takes the lock and reads again.
func (c *lockingCache) Get(ctx context.Context, key string) ([]byte, error) {
	data, err := c.Certificates.Get(ctx, key)
	if !certificateKey(key) || c.is.takePass(key) || c.is.renewing(key) || !c.due(data, err) {
		return data, err
	}
	if err != nil && !errors.Is(err, autocert.ErrCacheMiss) {
		return nil, c.refuse(ctx, key, err)
	}
	if err := c.is.lock(ctx, key, true); err != nil {
		return nil, c.refuse(ctx, key, err)
	}
	data, err = c.Certificates.Get(ctx, key)
	if !c.due(data, err) {
		// Renewed by another instance while we waited: autocert adopts it.
		c.is.release(key, c.is.current(key))
		return data, nil
	}
	if err != nil && !errors.Is(err, autocert.ErrCacheMiss) {
		c.is.release(key, c.is.current(key))
		return nil, c.refuse(ctx, key, err)
	}
	// Still due: a miss makes autocert order now (it would otherwise order
	// only if its own jittered threshold is passed, and adopt the old one
	// silently, leaving us holding the lock), under our lock until its Put.
	return nil, autocert.ErrCacheMiss
}

// Put stores data and ends the renewal's hold of key.
func (c *lockingCache) Put(ctx context.Context, key string, data []byte) error {
	err := c.Certificates.Put(ctx, key, data)
	if certificateKey(key) {
		c.is.stored(key)
	}
	return err
}

// due reports whether a cached certificate is missing or within
// autocert's renewal window (a third of its lifetime, at most 30 days,
// before expiry), or could not be read.
func (c *lockingCache) due(data []byte, err error) bool {
	if err != nil {
		return true
	}
	leaf, perr := leafOf(data)
	if perr != nil {
		return true
	}
	threshold := min(leaf.NotAfter.Sub(leaf.NotBefore)/3, 30*24*time.Hour)
	window := threshold + min(threshold/100, renewMargin)
	return leaf.NotAfter.Sub(c.now()) <= window
}

// refuse makes autocert's renewal fail without ordering: it returns once
// ctx has ended, so that autocert's order, which runs on the same context,
// stops at its first request. autocert then retries within the hour.
func (c *lockingCache) refuse(ctx context.Context, key string, err error) error {
	c.is.log.Warn("certificate renewal postponed: the shared store or its lock cannot be reached", "key", key, "error", err.Error())
	<-ctx.Done()
	return err
}

// certKeyOf is autocert's cache key of the certificate hello asks for:
// the name, with "+rsa" for a client that cannot use ECDSA (the test is
// autocert's).
func certKeyOf(name string, hello *tls.ClientHelloInfo) string {
	name = strings.TrimSuffix(name, ".")
	if !supportsECDSA(hello) {
		return name + "+rsa"
	}
	return name
}

// supportsECDSA is autocert's test of whether a client can use an ECDSA
// certificate (golang.org/x/crypto/acme/autocert, BSD licence).
func supportsECDSA(hello *tls.ClientHelloInfo) bool {
	if hello.SignatureSchemes != nil {
		ok := false
		for _, scheme := range hello.SignatureSchemes {
			const ecdsaWithSHA1 tls.SignatureScheme = 0x0203
			switch scheme {
			case ecdsaWithSHA1, tls.ECDSAWithP256AndSHA256, tls.ECDSAWithP384AndSHA384, tls.ECDSAWithP521AndSHA512:
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if hello.SupportedCurves != nil && !containsCurve(hello.SupportedCurves, tls.CurveP256) {
		return false
	}
	for _, suite := range hello.CipherSuites {
		switch suite {
		case tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305:
			return true
		}
	}
	return false
}

func containsCurve(curves []tls.CurveID, c tls.CurveID) bool {
	for _, x := range curves {
		if x == c {
			return true
		}
	}
	return false
}
