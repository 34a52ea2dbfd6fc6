package authapi

import (
	"crypto/sha256"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy/session"
)

// A refresh carries the login's captured lookups into the new token,
// without those whose name the provider's block no longer declares (a
// reload between login and refresh).
func TestRefreshKeepsCapturedLookups(t *testing.T) {
	snapWith := func(lookups ...string) *policy.Snapshot {
		snap, err := policy.New(policy.Spec{
			Sessions: &policy.SessionsSpec{
				HMACKey: []byte("test-signing-key-0123456789abcdef-0123456789"), TTL: time.Hour,
				RefreshTTL: 24 * time.Hour, CacheSize: 100, Issuer: "gatehouse-test",
			},
			Apps: []policy.AppSpec{{Name: "portal", KeySHA256: sha256.Sum256([]byte("portal-key")), Active: true}},
			LDAP: []policy.LDAPSpec{{Name: "corp", Lookups: lookups}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return snap
	}
	sessions, err := session.NewManager(session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sessions.Close)
	h := New(Options{Sessions: sessions})
	refresh := func(snap *policy.Snapshot, token string) (*session.Session, string) {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "/auth/refresh", nil)
		r.Header.Set("X-API-Key", "portal-key")
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		q := &Request{W: w, R: r, Path: "/auth/refresh", Snap: snap, Keys: snap.SessionKeys(), Client: netip.MustParseAddr("192.0.2.1")}
		if err := h.Serve(q); err != nil || q.Status != http.StatusOK {
			t.Fatalf("refresh: %v, status %d", err, q.Status)
		}
		var tr TokenResponse
		if err := json.Unmarshal(w.Body.Bytes(), &tr); err != nil {
			t.Fatal(err)
		}
		s, err := sessions.Verify(snap.SessionKeys(), tr.SessionToken)
		if err != nil {
			t.Fatal(err)
		}
		return s, tr.SessionToken
	}

	both := snapWith("department", "region")
	tok, err := sessions.Issue(both.SessionKeys(), &session.Session{Subject: "ann", App: "portal", Provider: "corp",
		Lookups: map[string]string{"department": "sales", "region": "eu"}})
	if err != nil {
		t.Fatal(err)
	}
	s, tok := refresh(both, tok)
	if want := map[string]string{"department": "sales", "region": "eu"}; !maps.Equal(s.Lookups, want) {
		t.Errorf("refreshed: %q, want %q", s.Lookups, want)
	}
	s, tok = refresh(snapWith("department"), tok)
	if want := map[string]string{"department": "sales"}; !maps.Equal(s.Lookups, want) {
		t.Errorf("refreshed after region was removed: %q, want %q", s.Lookups, want)
	}
	s, _ = refresh(snapWith(), tok)
	if s.Lookups != nil {
		t.Errorf("refreshed after lookups were removed: %q, want none", s.Lookups)
	}
}
