package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// Key is one of an app's API keys. Only its SHA-256 is known, and that
// only as the snapshot's map key: Key holds what a request with the key
// needs, so that recognizing it is one hash and one map lookup.
type Key struct {
	app      *App
	name     string // the label, or the first 8 hex digits of the hash
	labeled  bool
	notAfter time.Time // zero = no expiry
	origin   string
}

// keyNameLen is how many hex digits of its hash name an unlabeled key: 32
// bits, enough to tell an app's few keys apart in a log, far too few to
// help anyone guess the key.
const keyNameLen = 8

// App returns the app the key belongs to.
func (k *Key) App() *App { return k.app }

// Name returns what logs and metrics call the key: its label, or for an
// unlabeled key the first 8 hex digits of its SHA-256. Never the key.
// Names are unique within an app (config refuses a label equal to the
// unlabeled key's name).
func (k *Key) Name() string { return k.name }

// Label returns the key's label, or "" when it has none.
func (k *Key) Label() string {
	if !k.labeled {
		return ""
	}
	return k.name
}

// NotAfter returns the last instant the key is accepted; zero = no expiry.
func (k *Key) NotAfter() time.Time { return k.notAfter }

// Expired reports whether the key is past its not_after at now. A key is
// accepted up to and including its not_after instant (as an X.509
// certificate is).
func (k *Key) Expired(now time.Time) bool {
	return !k.notAfter.IsZero() && now.After(k.notAfter)
}

// Origin returns where the key was declared ("apps.hcl:3,3"): the app
// block for api_key_sha256, else the api_key block.
func (k *Key) Origin() string { return k.origin }

// KeyName is the name logs and metrics give a key with this hash and
// label: the label, or the first 8 hex digits of the hash.
func KeyName(sum [32]byte, label string) string {
	if label != "" {
		return label
	}
	return hex.EncodeToString(sum[:keyNameLen/2])
}

// addKeys puts the keys of as into s.keys, refusing a hash another key
// already has (in any app) and a name used twice within the app.
func (s *Snapshot) addKeys(a *App, as AppSpec) error {
	keys := as.Keys
	if as.KeySHA256 != ([32]byte{}) {
		keys = append([]KeySpec{{SHA256: as.KeySHA256, Origin: as.Origin}}, keys...)
	}
	names := make(map[string]bool, len(keys))
	for _, ks := range keys {
		if _, dup := s.keys[ks.SHA256]; dup {
			return fmt.Errorf("app %q: an API key hash is already used by another key", as.Name)
		}
		k := &Key{app: a, name: KeyName(ks.SHA256, ks.Label), labeled: ks.Label != "", notAfter: ks.NotAfter, origin: ks.Origin}
		if names[k.name] {
			return fmt.Errorf("app %q: two API keys are named %q", as.Name, k.name)
		}
		names[k.name] = true
		s.keys[ks.SHA256] = k
		a.keys = append(a.keys, k)
	}
	return nil
}

// APIKey returns the key whose SHA-256 is that of key, whether or not it
// has expired or its app is active: callers refuse those with their own
// reasons.
func (s *Snapshot) APIKey(key string) (*Key, bool) {
	k, ok := s.keys[sha256.Sum256([]byte(key))]
	return k, ok
}

// AppByKey returns the app that key belongs to (APIKey), whether or not
// it is active or the key has expired.
func (s *Snapshot) AppByKey(key string) (*App, bool) {
	k, ok := s.APIKey(key)
	if !ok {
		return nil, false
	}
	return k.app, true
}
