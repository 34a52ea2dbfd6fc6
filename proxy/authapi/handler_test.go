package authapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/password"
	"github.com/gatehouse-dev/gatehouse/proxy/authn"
	"github.com/gatehouse-dev/gatehouse/proxy/httperr"
	"github.com/gatehouse-dev/gatehouse/proxy/session"
)

// The handler works from what a Request carries, without the proxy: an
// admin logs in, the token describes its session, and the refusals come
// back as *httperr.Error for the proxy's error writer.
func TestHandler_WithoutProxy(t *testing.T) {
	snap := adminSnapshot(t)
	keys := snap.SessionKeys()
	sessions, err := session.NewManager(session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sessions.Close)
	h := New(Options{Sessions: sessions})
	serve := func(method, path, body string, hdr http.Header) (*Request, *httptest.ResponseRecorder, error) {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		for k, v := range hdr {
			r.Header[k] = v
		}
		w := httptest.NewRecorder()
		q := &Request{W: w, R: r, Path: path, Snap: snap, Keys: keys, Client: netip.MustParseAddr("192.0.2.1"), ID: "req-1"}
		return q, w, h.Serve(q)
	}

	q, w, err := serve(http.MethodPost, "/auth/login", `{"username":"root","password":"rootpw"}`,
		http.Header{"Content-Type": {"application/json"}})
	if err != nil || q.Status != http.StatusOK || q.Reason != reasonLoginOK || q.Ident.User != "root" || !q.Ident.Admin {
		t.Fatalf("login: %v, status %d, reason %q, ident %+v", err, q.Status, q.Reason, q.Ident)
	}
	if h.PasswordChecks() != 1 || w.Header().Get("X-Request-Id") != "req-1" {
		t.Errorf("%d password checks, X-Request-Id %q", h.PasswordChecks(), w.Header().Get("X-Request-Id"))
	}
	var tr TokenResponse
	if err := json.Unmarshal(w.Body.Bytes(), &tr); err != nil || tr.SessionToken == "" {
		t.Fatalf("login body %q: %v", w.Body, err)
	}

	q, w, err = serve(http.MethodGet, "/auth/session", "", http.Header{"Authorization": {"Bearer " + tr.SessionToken}})
	var info SessionInfo
	if err != nil || q.Status != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &info) != nil || info.User != "root" || !info.Admin {
		t.Fatalf("session: %v, status %d, body %q", err, q.Status, w.Body)
	}

	bare := http.Header{"Authorization": {"Bearer"}} // "Bearer " after net/http trims it
	for _, c := range []struct {
		method, path string
		hdr          http.Header
		status       int
		reason       string
	}{
		{http.MethodGet, "/auth/nothing", nil, http.StatusNotFound, reasonNoEndpoint},
		{http.MethodGet, "/auth/login", nil, http.StatusMethodNotAllowed, reasonMethod},
		{http.MethodGet, "/auth/session", nil, http.StatusUnauthorized, "missing_api_key"},
		{http.MethodPost, "/auth/logout", nil, http.StatusUnauthorized, reasonNoSession},
		{http.MethodGet, "/auth/session", bare, http.StatusUnauthorized, authn.ReasonSessionMalformed},
		{http.MethodPost, "/auth/logout", bare, http.StatusUnauthorized, authn.ReasonSessionMalformed},
		{http.MethodPost, "/auth/refresh", bare, http.StatusUnauthorized, authn.ReasonSessionMalformed},
	} {
		q, _, err := serve(c.method, c.path, "", c.hdr)
		var e *httperr.Error
		if !errors.As(err, &e) || e.Status != c.status || e.Reason != c.reason || q.Status != 0 {
			t.Errorf("%s %s %v: %v (status %d), want %d %s", c.method, c.path, c.hdr, err, q.Status, c.status, c.reason)
		}
	}
}

// adminSnapshot is a snapshot with a sessions block (HS256) and one active
// admin, root, whose password is "rootpw".
func adminSnapshot(t *testing.T) *policy.Snapshot {
	t.Helper()
	return adminSnapshotWith(t, password.Argon2Params{Memory: 64, Time: 1, Threads: 1})
}

// adminSnapshotWith is adminSnapshot with root's hash made with params.
func adminSnapshotWith(t *testing.T, params password.Argon2Params) *policy.Snapshot {
	t.Helper()
	pw, err := password.New("rootpw", params)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := password.Parse(pw)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := policy.New(policy.Spec{
		Sessions: &policy.SessionsSpec{
			HMACKey: []byte("test-signing-key-0123456789abcdef-0123456789"), TTL: time.Hour,
			RefreshTTL: 24 * time.Hour, CacheSize: 100, Issuer: "gatehouse-test",
		},
		Admins: []policy.AdminSpec{{Name: "root", Password: hash, Active: true}},
	})
	if err != nil {
		t.Fatalf("policy.New: %v", err)
	}
	return snap
}
