package session

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// revoke calls m.Revoke, which cannot fail with the in-memory store.
func revoke(t *testing.T, m *Manager, k *policy.SessionKeys, s *Session) bool {
	t.Helper()
	first, err := m.Revoke(context.Background(), k, s)
	if err != nil {
		t.Fatal(err)
	}
	return first
}

func newTest(t *testing.T) (*Manager, *policy.SessionKeys, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	m, err := NewManager(Options{CacheSize: 100, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	k, err := policy.NewSessionKeys(&policy.SessionsSpec{HMACKey: []byte("0123456789abcdef0123456789abcdef"), TTL: time.Hour, RefreshTTL: 24 * time.Hour, CacheSize: 100, Issuer: "t"})
	if err != nil {
		t.Fatal(err)
	}
	return m, k, c
}

func TestVerify_ExpiryAndRefreshWindow(t *testing.T) {
	m, k, c := newTest(t)
	s := &Session{Subject: "alice", App: "portal", Provider: "local", Local: true}
	tok, err := m.Issue(k, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Verify(k, tok); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	m.Wait()
	steps := []struct {
		advance           time.Duration
		verify, refreshOK error
	}{
		{30 * time.Minute, nil, nil},
		{31 * time.Minute, ErrExpired, nil},        // 1h1m: expired (cache hit path)
		{22 * time.Hour, ErrExpired, nil},          // 23h1m: still refreshable
		{time.Hour, ErrExpired, ErrExpired},        // 24h1m: refresh window over
		{-24*time.Hour - time.Minute, nil, nil},    // back to the start
		{-2 * time.Minute, ErrInvalid, ErrInvalid}, // before iat-leeway: iat in the future
	}
	for i, st := range steps {
		c.add(st.advance)
		if _, err := m.Verify(k, tok); !errors.Is(err, st.verify) && !(st.verify == nil && err == nil) {
			t.Errorf("step %d: Verify = %v, want %v", i, err, st.verify)
		}
		if _, err := m.Refreshable(k, tok); !errors.Is(err, st.refreshOK) && !(st.refreshOK == nil && err == nil) {
			t.Errorf("step %d: Refreshable = %v, want %v", i, err, st.refreshOK)
		}
	}
}

func TestRevoke_OnceAndCacheBypassed(t *testing.T) {
	m, k, _ := newTest(t)
	s := &Session{Subject: "alice", App: "portal", Provider: "local", Local: true}
	tok, _ := m.Issue(k, s)
	got, err := m.Verify(k, tok)
	if err != nil {
		t.Fatal(err)
	}
	m.Wait()
	if !revoke(t, m, k, got) {
		t.Fatal("first revoke reported false")
	}
	if revoke(t, m, k, got) {
		t.Error("second revoke reported true")
	}
	if _, err := m.Verify(k, tok); !errors.Is(err, ErrRevoked) {
		t.Errorf("Verify after revoke = %v", err)
	}
	if _, err := m.Refreshable(k, tok); !errors.Is(err, ErrRevoked) {
		t.Errorf("Refreshable after revoke = %v", err)
	}
	if n := m.Stats().Revoked; n != 1 {
		t.Errorf("Revoked = %d", n)
	}
}

// TestRevoke_TellsOnRevokeOnce: the proxy closes a session's tunnels from
// OnRevoke (issue 18, point 12), so it must hear of each revocation, once.
func TestRevoke_TellsOnRevokeOnce(t *testing.T) {
	var got []string
	m, err := NewManager(Options{CacheSize: 100, OnRevoke: func(sid string) { got = append(got, sid) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	_, k, _ := newTest(t)
	s := &Session{Subject: "alice", App: "portal", Provider: "local", Local: true}
	if _, err := m.Issue(k, s); err != nil {
		t.Fatal(err)
	}
	if m.Revoked(s.ID, s.IssuedAt) {
		t.Fatal("Revoked before Revoke")
	}
	revoke(t, m, k, s)
	revoke(t, m, k, s)
	if len(got) != 1 || got[0] != s.ID {
		t.Errorf("OnRevoke got %q, want [%q]", got, s.ID)
	}
	if !m.Revoked(s.ID, s.IssuedAt) {
		t.Error("Revoked after Revoke: got false, want true")
	}
}

func TestRevoke_PruneForgetsUselessRevocations(t *testing.T) {
	m, k, c := newTest(t)
	for range 1023 {
		s := &Session{Subject: "a", App: "p", Provider: "local"}
		if _, err := m.Issue(k, s); err != nil {
			t.Fatal(err)
		}
		revoke(t, m, k, s)
	}
	c.add(48 * time.Hour) // past every refresh deadline
	s := &Session{Subject: "a", App: "p", Provider: "local"}
	_, _ = m.Issue(k, s)
	revoke(t, m, k, s) // the 1024th revocation prunes
	if n := m.Stats().Revoked; n != 1 {
		t.Errorf("after prune: %d revocations remembered, want 1", n)
	}
}

// A cached token stops working when the key changes (a reload with a new
// signing key), and tokens of one key type never verify under another.
func TestVerify_KeyChange(t *testing.T) {
	m, k, _ := newTest(t)
	tok, _ := m.Issue(k, &Session{Subject: "alice", App: "portal", Provider: "local"})
	if _, err := m.Verify(k, tok); err != nil {
		t.Fatal(err)
	}
	m.Wait()
	k2, _ := policy.NewSessionKeys(&policy.SessionsSpec{HMACKey: []byte("another-key-0123456789abcdef-0123"), TTL: time.Hour, RefreshTTL: time.Hour, CacheSize: 1, Issuer: "t"})
	if _, err := m.Verify(k2, tok); !errors.Is(err, ErrInvalid) {
		t.Errorf("token under a new key: %v, want ErrInvalid", err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	k3, _ := policy.NewSessionKeys(&policy.SessionsSpec{Ed25519Key: priv, TTL: time.Hour, RefreshTTL: time.Hour, CacheSize: 1, Issuer: "t"})
	if _, err := m.Verify(k3, tok); !errors.Is(err, ErrInvalid) {
		t.Errorf("HS256 token under an EdDSA key: %v, want ErrInvalid", err)
	}
	if k3.Algorithm() != "EdDSA" || k.Algorithm() != "HS256" {
		t.Errorf("algorithms %s %s", k.Algorithm(), k3.Algorithm())
	}
	if keys := k.JWKS()["keys"].([]map[string]string); len(keys) != 0 {
		t.Error("an HMAC secret was published in the JWKS")
	}
}

func TestVerify_Malformed(t *testing.T) {
	m, k, _ := newTest(t)
	for _, tok := range []string{"", "a.b", "a.b.c", string(make([]byte, MaxTokenBytes+1))} {
		if _, err := m.Verify(k, tok); err == nil {
			t.Errorf("Verify(%.20q) succeeded", tok)
		}
	}
}

func BenchmarkVerify_CacheHit(b *testing.B) {
	c := &clock{t: time.Now()}
	m, _ := NewManager(Options{CacheSize: 1000, Now: c.now})
	defer m.Close()
	k, _ := policy.NewSessionKeys(&policy.SessionsSpec{HMACKey: []byte("0123456789abcdef0123456789abcdef"), TTL: time.Hour, RefreshTTL: time.Hour, CacheSize: 1000, Issuer: "t"})
	tok, _ := m.Issue(k, &Session{Subject: "alice", App: "portal", Provider: "local"})
	_, _ = m.Verify(k, tok)
	m.Wait()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Verify(k, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify_Miss(b *testing.B) {
	c := &clock{t: time.Now()}
	m, _ := NewManager(Options{CacheSize: 1, Now: c.now})
	defer m.Close()
	k, _ := policy.NewSessionKeys(&policy.SessionsSpec{HMACKey: []byte("0123456789abcdef0123456789abcdef"), TTL: time.Hour, RefreshTTL: time.Hour, CacheSize: 1, Issuer: "t"})
	tok, _ := m.Issue(k, &Session{Subject: "alice", App: "portal", Provider: "local"})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.parse(k, tok, c.now(), false); err != nil {
			b.Fatal(err)
		}
	}
}

// Captured lookups travel signed: Verify and Refreshable return them, a
// changed value breaks the signature, and a token carrying more than the
// limits allow is refused even when correctly signed.
func TestLookupsCarried(t *testing.T) {
	m, k, _ := newTest(t)
	s := &Session{Subject: "ann", App: "portal", Provider: "corp", Lookups: map[string]string{"department": "sales", "region": "Zürich"}}
	tok, err := m.Issue(k, s)
	if err != nil {
		t.Fatal(err)
	}
	for name, verify := range map[string]func(*policy.SessionKeys, string) (*Session, error){"Verify": m.Verify, "Refreshable": m.Refreshable} {
		got, err := verify(k, tok)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got.Lookups) != 2 || got.Lookups["department"] != "sales" || got.Lookups["region"] != "Zürich" {
			t.Errorf("%s: lookups %q", name, got.Lookups)
		}
	}

	// The payload with another department, the signature kept.
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.Replace(string(payload), `"sales"`, `"board"`, 1)
	if forged == string(payload) {
		t.Fatal("payload has no department")
	}
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(forged))
	if _, err := m.Verify(k, strings.Join(parts, ".")); !errors.Is(err, ErrInvalid) {
		t.Errorf("forged lookup: %v, want ErrInvalid", err)
	}

	big := &Session{Subject: "ann", App: "portal", Provider: "corp", Lookups: map[string]string{"a": strings.Repeat("x", policy.MaxIdentityLookupBytes+1)}}
	tok, err = m.Issue(k, big)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Verify(k, tok); !errors.Is(err, ErrInvalid) {
		t.Errorf("over-long lookup: %v, want ErrInvalid", err)
	}
}
