package authapi

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"sync/atomic"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy/authapi/oauth"
)

// derivedKeys are the keys the handler derives from a snapshot's session
// keys, so that every instance with the same configuration has the same:
// the OAuth binding cookies' sealing key, and the key that hashes
// usernames into failed-login budget keys. The secret they come from is
// the sessions signing key (the HMAC key, or the Ed25519 private key's
// seed): the one secret all instances must already share, since each
// verifies the others' sessions with it, and that only gatehouse knows
// (an OAuth client secret is known to its provider too). Each is derived
// with HKDF-SHA256 and its own info string, so none reveals the signing
// key or another. A new signing key gives new derived keys: OAuth logins
// in flight must be begun again and per-user budgets start afresh (the
// per-address ones do not depend on it).
type derivedKeys struct {
	from     *policy.SessionKeys
	binding  []byte // oauth.Config.Key
	userHash []byte // HMAC-SHA256 key of loginLimiter's username hashes
}

// keyCache holds the keys derived from the session keys last seen; a
// snapshot's keys live as long as the snapshot, so deriving happens once
// per configuration (load), not per login.
type keyCache struct{ last atomic.Pointer[derivedKeys] }

// get returns the keys derived from keys.
func (c *keyCache) get(keys *policy.SessionKeys) *derivedKeys {
	if d := c.last.Load(); d != nil && d.from == keys {
		return d
	}
	secret := signingSecret(keys)
	d := &derivedKeys{
		from:     keys,
		binding:  oauth.BindingKey(secret),
		userHash: derive(secret, "gatehouse login budget username v1"),
	}
	c.last.Store(d)
	return d
}

// signingSecret is the secret bytes of the sessions signing key.
func signingSecret(keys *policy.SessionKeys) []byte {
	switch k := keys.SigningKey().(type) {
	case []byte:
		return k
	case ed25519.PrivateKey:
		return k.Seed()
	}
	panic("authapi: unknown session signing key type") // policy makes only these two
}

// derive is a 32-byte HKDF-SHA256 key of secret for info.
func derive(secret []byte, info string) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, info, 32)
	if err != nil {
		panic(err) // only for lengths over 255*32 bytes
	}
	return k
}
