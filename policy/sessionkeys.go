package policy

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Session token algorithms (SessionKeys.Algorithm).
const (
	AlgHS256 = "HS256"
	AlgEdDSA = "EdDSA"
)

// SessionKeys are the compiled signing and verification keys of a sessions
// block, with the settings tokens are checked against. New builds them with
// the snapshot (Snapshot.SessionKeys), so loading a snapshot cannot fail on
// its keys; proxy/session signs and verifies tokens with them.
type SessionKeys struct {
	alg        string            // AlgHS256 or AlgEdDSA
	sign       any               // []byte or ed25519.PrivateKey
	verify     any               // []byte or ed25519.PublicKey
	public     ed25519.PublicKey // EdDSA only, for the JWKS
	kid        string
	id         string // kid, issuer, ttl and refresh window: what cached sessions were checked under
	issuer     string
	ttl        time.Duration
	refreshTTL time.Duration
}

// NewSessionKeys compiles the keys of ss: exactly one of an HMAC key of at
// least 32 bytes and an Ed25519 private key. (New checks the rest of the
// block: ttl, refresh_ttl, cache_size, issuer.)
func NewSessionKeys(ss *SessionsSpec) (*SessionKeys, error) {
	k := &SessionKeys{issuer: ss.Issuer, ttl: ss.TTL, refreshTTL: ss.RefreshTTL}
	switch {
	case (len(ss.HMACKey) == 0) == (len(ss.Ed25519Key) == 0):
		return nil, errors.New("sessions: exactly one of an HMAC key and an Ed25519 key is needed")
	case len(ss.HMACKey) > 0 && len(ss.HMACKey) < 32:
		return nil, errors.New("sessions: signing_key is shorter than 32 bytes")
	case len(ss.Ed25519Key) > 0 && len(ss.Ed25519Key) != ed25519.PrivateKeySize:
		return nil, fmt.Errorf("sessions: the Ed25519 private key has %d bytes, not %d", len(ss.Ed25519Key), ed25519.PrivateKeySize)
	case len(ss.Ed25519Key) > 0:
		priv := slices.Clone(ss.Ed25519Key)
		pub := priv.Public().(ed25519.PublicKey)
		k.alg, k.sign, k.verify, k.public = AlgEdDSA, priv, pub, pub
		sum := sha256.Sum256(pub)
		k.kid = base64.RawURLEncoding.EncodeToString(sum[:12])
	default:
		key := slices.Clone(ss.HMACKey)
		k.alg, k.sign, k.verify = AlgHS256, key, key
		// The kid of a shared secret must not help guess it: hash it
		// with a domain separator and keep 96 bits.
		sum := sha256.Sum256(append([]byte("gatehouse kid\x00"), key...))
		k.kid = base64.RawURLEncoding.EncodeToString(sum[:12])
	}
	// Cached sessions are valid only under the settings they were checked
	// with: a new key, issuer, ttl or refresh window makes them verify
	// again (the lifetime check depends on both durations).
	k.id = fmt.Sprintf("%s\x00%s\x00%d\x00%d", k.kid, k.issuer, k.ttl, k.refreshTTL)
	return k, nil
}

// Algorithm returns AlgHS256 or AlgEdDSA.
func (k *SessionKeys) Algorithm() string { return k.alg }

// SigningKey returns the key tokens are signed with: the HMAC key ([]byte)
// or the ed25519.PrivateKey. It must not be modified.
func (k *SessionKeys) SigningKey() any { return k.sign }

// VerificationKey returns the key signatures are checked with: the HMAC
// key ([]byte) or the ed25519.PublicKey. It must not be modified.
func (k *SessionKeys) VerificationKey() any { return k.verify }

// KeyID returns the kid header of the tokens signed with these keys.
func (k *SessionKeys) KeyID() string { return k.kid }

// ID identifies the keys and the settings sessions are checked under.
func (k *SessionKeys) ID() string { return k.id }

// Issuer returns the iss claim.
func (k *SessionKeys) Issuer() string { return k.issuer }

// TTL returns the token lifetime.
func (k *SessionKeys) TTL() time.Duration { return k.ttl }

// RefreshTTL returns how long after login a session can be refreshed.
func (k *SessionKeys) RefreshTTL() time.Duration { return k.refreshTTL }

// JWKS returns the JSON Web Key Set of the public verification key: one
// OKP key for EdDSA, none for HS256 (a shared secret is never published).
func (k *SessionKeys) JWKS() map[string]any {
	keys := []map[string]string{}
	if k.public != nil {
		keys = append(keys, map[string]string{
			"kty": "OKP", "crv": "Ed25519", "alg": AlgEdDSA, "use": "sig", "kid": k.kid,
			"x": base64.RawURLEncoding.EncodeToString(k.public),
		})
	}
	return map[string]any{"keys": keys}
}
