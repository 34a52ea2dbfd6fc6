package memstore

import (
	"context"
	"slices"
	"sync"

	"golang.org/x/crypto/acme/autocert"

	"github.com/gatehouse-dev/gatehouse/store"
)

// Certificates is store.Certificates in a map, for tests and for a
// process that need not keep certificates across restarts (gatehouse
// itself uses autocert.DirCache by default). It is safe for concurrent
// use.
type Certificates struct {
	mu    sync.Mutex
	blobs map[string][]byte
}

var _ store.Certificates = (*Certificates)(nil)

// NewCertificates returns an empty cache.
func NewCertificates() *Certificates { return &Certificates{blobs: map[string][]byte{}} }

// Get returns a copy of key's data, or autocert.ErrCacheMiss.
func (c *Certificates) Get(_ context.Context, key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	data, ok := c.blobs[key]
	if !ok {
		return nil, autocert.ErrCacheMiss
	}
	return slices.Clone(data), nil
}

// Put stores a copy of data under key.
func (c *Certificates) Put(_ context.Context, key string, data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.blobs[key] = slices.Clone(data)
	return nil
}

// Delete removes key; a missing key is not an error.
func (c *Certificates) Delete(_ context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.blobs, key)
	return nil
}
