package redisstore

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/acme/autocert"

	"github.com/gatehouse-dev/gatehouse/store"
)

// Defaults of CertificatesOptions.
const (
	DefaultLockTTL    = 30 * time.Second
	DefaultOpTimeout  = 5 * time.Second
	lockPollMin       = 50 * time.Millisecond
	lockPollMax       = time.Second
	sealedMagic       = "gh-aead-1:" // prefix of an encrypted value
	certificatesKeyNS = "cert:"
	locksKeyNS        = "lock:"
	hkdfInfo          = "gatehouse certificates at rest v1"
)

// CertificatesOptions configures NewCertificates.
type CertificatesOptions struct {
	// EncryptionSecret, when not empty, encrypts every value at rest with
	// AES-256-GCM under a key derived from it with HKDF-SHA256; the
	// value's Redis key is the additional data, so a blob moved to another
	// key does not open. Every instance needs the same secret. With a
	// secret set, a value that is not encrypted or does not open is an
	// error, never a miss (a miss would make acme order again).
	EncryptionSecret []byte
	// LockTTL is the expiry of a lock key; the holder refreshes it every
	// LockTTL/3. Zero means DefaultLockTTL.
	LockTTL time.Duration
	// Logger receives lost locks and failed refreshes; nil discards.
	Logger *slog.Logger
}

// Certificates is store.Certificates and store.Locker on Redis: values
// under prefix+"cert:"+name, locks under prefix+"lock:"+name. It is safe
// for concurrent use.
type Certificates struct {
	rdb    redis.UniversalClient
	prefix string
	aead   cipher.AEAD // nil: values stored as they are
	ttl    time.Duration
	log    *slog.Logger
}

var (
	_ store.Certificates = (*Certificates)(nil)
	_ store.Locker       = (*Certificates)(nil)
)

// NewCertificates returns the certificate store and lock on rdb. prefix is
// gatehouse's key prefix (every key starts with it).
func NewCertificates(rdb redis.UniversalClient, prefix string, opts CertificatesOptions) (*Certificates, error) {
	c := &Certificates{rdb: rdb, prefix: prefix, ttl: opts.LockTTL, log: opts.Logger}
	if c.ttl <= 0 {
		c.ttl = DefaultLockTTL
	}
	if c.ttl < 30*time.Millisecond {
		return nil, errors.New("redisstore: lock TTL below 30ms")
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if len(opts.EncryptionSecret) > 0 {
		key, err := hkdf.Key(sha256.New, opts.EncryptionSecret, nil, hkdfInfo, 32)
		if err != nil {
			return nil, fmt.Errorf("redisstore: deriving the certificate key: %w", err)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		if c.aead, err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Certificates) key(name string) string { return c.prefix + certificatesKeyNS + name }

// Get returns name's value, autocert.ErrCacheMiss when there is none, or an
// error (Redis unreachable, a value that does not decrypt).
func (c *Certificates) Get(ctx context.Context, name string) ([]byte, error) {
	k := c.key(name)
	data, err := c.rdb.Get(ctx, k).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, autocert.ErrCacheMiss
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: get %s: %w", name, err)
	}
	return c.open(k, data)
}

// Put stores data under name, encrypted when a secret is configured. An
// error means it may not be stored.
func (c *Certificates) Put(ctx context.Context, name string, data []byte) error {
	k := c.key(name)
	sealed, err := c.seal(k, data)
	if err != nil {
		return err
	}
	if err := c.rdb.Set(ctx, k, sealed, 0).Err(); err != nil {
		return fmt.Errorf("redisstore: put %s: %w", name, err)
	}
	return nil
}

// Delete removes name; a missing name is not an error.
func (c *Certificates) Delete(ctx context.Context, name string) error {
	if err := c.rdb.Del(ctx, c.key(name)).Err(); err != nil {
		return fmt.Errorf("redisstore: delete %s: %w", name, err)
	}
	return nil
}

func (c *Certificates) seal(key string, data []byte) ([]byte, error) {
	if c.aead == nil {
		return data, nil
	}
	nonce := make([]byte, c.aead.NonceSize(), len(sealedMagic)+c.aead.NonceSize()+len(data)+c.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append([]byte(sealedMagic), nonce...)
	return c.aead.Seal(out, nonce, data, []byte(key)), nil
}

func (c *Certificates) open(key string, data []byte) ([]byte, error) {
	if c.aead == nil {
		return data, nil
	}
	rest, ok := bytes.CutPrefix(data, []byte(sealedMagic))
	if !ok || len(rest) < c.aead.NonceSize() {
		return nil, fmt.Errorf("redisstore: %s is not encrypted although an encryption secret is configured", key)
	}
	nonce, ct := rest[:c.aead.NonceSize()], rest[c.aead.NonceSize():]
	plain, err := c.aead.Open(nil, nonce, ct, []byte(key))
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s does not decrypt (other secret, or altered): %w", key, err)
	}
	return plain, nil
}

// refreshScript extends the lock's expiry if it still holds our token.
var refreshScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)

// releaseScript deletes the lock if it still holds our token.
var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`)

// Lock takes the lock name: SET NX PX of a random token, retried with
// jittered backoff (50 ms doubling to 1 s) until it succeeds or ctx ends.
// While held, a goroutine refreshes the expiry every LockTTL/3 with a
// compare-token script. lost is closed, with an error logged, when a
// refresh finds the key gone or holding another token, or when no refresh
// has succeeded for LockTTL (the key has expired by then); a refresh that
// only failed is logged as a warning and retried at the next tick. unlock
// stops the refresh and deletes the key if it is still ours.
func (c *Certificates) Lock(ctx context.Context, name string) (func(), <-chan struct{}, error) {
	k := c.prefix + locksKeyNS + name
	var tb [16]byte
	if _, err := rand.Read(tb[:]); err != nil {
		return nil, nil, err
	}
	token := hex.EncodeToString(tb[:])
	wait := lockPollMin
	for {
		acquiredAt := time.Now()
		ok, err := c.rdb.SetNX(ctx, k, token, c.ttl).Result()
		if err != nil {
			return nil, nil, fmt.Errorf("redisstore: lock %s: %w", name, err)
		}
		if ok {
			return c.hold(k, name, token, acquiredAt)
		}
		// Full jitter over [wait/2, wait).
		d := wait/2 + mrand.N(wait/2)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, fmt.Errorf("redisstore: waiting for lock %s: %w", name, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, lockPollMax)
	}
}

func (c *Certificates) hold(k, name, token string, acquiredAt time.Time) (func(), <-chan struct{}, error) {
	lost := make(chan struct{})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(c.ttl / 3)
		defer tick.Stop()
		valid := acquiredAt.Add(c.ttl) // the key expires no earlier than this
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			sent := time.Now()
			if !sent.Before(valid) {
				c.log.Error("certificate lock lost: not refreshed within its TTL; another instance may take it", "lock", name, "ttl", c.ttl.String())
				close(lost)
				return
			}
			ctx, cancel := context.WithDeadline(context.Background(), valid)
			n, err := refreshScript.Run(ctx, c.rdb, []string{k}, token, c.ttl.Milliseconds()).Int64()
			cancel()
			switch {
			case err != nil:
				c.log.Warn("certificate lock refresh failed; retrying", "lock", name, "error", err.Error(), "expires_in", time.Until(valid).Round(time.Millisecond).String())
			case n == 0:
				c.log.Error("certificate lock lost: its key is gone or held by another instance", "lock", name)
				close(lost)
				return
			default:
				valid = sent.Add(c.ttl)
			}
		}
	}()
	var once sync.Once
	unlock := func() {
		once.Do(func() {
			close(stop)
			<-done
			ctx, cancel := context.WithTimeout(context.Background(), DefaultOpTimeout)
			defer cancel()
			if err := releaseScript.Run(ctx, c.rdb, []string{k}, token).Err(); err != nil {
				c.log.Warn("certificate lock release failed; it expires by itself", "lock", name, "error", err.Error())
			}
		})
	}
	return unlock, lost, nil
}
