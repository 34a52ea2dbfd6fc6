package proxy

import (
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/reload"
	"github.com/gatehouse-dev/gatehouse/settings"
)

// The static admin token (only its SHA-256 in the config) opens the admin
// API as an admin session does, without a sessions block; a wrong one is
// 401; on the public listener it opens nothing.
func TestAdmin_StaticToken(t *testing.T) {
	const token = "gh_admin_0123456789abcdefghijklmnopqrstuvwxyzABCD"
	sum := sha256.Sum256([]byte(token))
	rt := &settings.Runtime{AdminTokenSHA256: &sum}
	up := newUpstream(t, nil)
	snap, err := policy.New(testSpec(t, up.URL)) // no sessions block
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Options{Logger: discardLogger()})
	srv.Load(snap, rt)
	t.Cleanup(func() { srv.Close() })
	var reloads atomic.Int64
	rl := reload.New(srv, reload.Options{Logger: discardLogger(), Load: func() (*policy.Snapshot, *settings.Runtime, error) {
		reloads.Add(1)
		return snap, rt, nil
	}})
	pub := httptest.NewServer(srv)
	t.Cleanup(pub.Close)
	admin := httptest.NewServer(srv.AdminHandler(AdminOptions{Reload: rl}))
	t.Cleanup(admin.Close)
	call := func(base, method, path, auth string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, body := do(t, http.DefaultClient, req)
		m := map[string]any{}
		_ = json.Unmarshal([]byte(body), &m)
		return res.StatusCode, m
	}
	for _, auth := range []string{"", "Bearer wrong-token", "Bearer " + token + "x", "Basic " + token, "bearer"} {
		if code, _ := call(admin.URL, "POST", "/admin/reload", auth); code != 401 {
			t.Errorf("POST /admin/reload with %q: %d, want 401", auth, code)
		}
	}
	if n := reloads.Load(); n != 0 {
		t.Fatalf("%d reloads ran without the token", n)
	}
	if code, body := call(admin.URL, "POST", "/admin/reload", "Bearer "+token); code != 200 || body["status"] != "unchanged" || reloads.Load() != 1 {
		t.Errorf("POST /admin/reload with the token: %d %v, want 200 unchanged and one reload", code, body)
	}
	if code, body := call(admin.URL, "GET", "/admin/config", "Bearer "+token); code != 200 || body["config_hash"] != "testhash" {
		t.Errorf("GET /admin/config with the token: %d %v", code, body)
	}
	// The public listener: the token is no credential for an upstream.
	before := len(up.requests())
	if code, _ := call(pub.URL, "GET", "/hr/employees", "Bearer "+token); code != 401 {
		t.Errorf("public listener with the token: %d, want 401", code)
	}
	if len(up.requests()) != before {
		t.Error("a request with only the admin token reached the upstream")
	}
	// Without a token and without a sessions block: 403 as before.
	srv.Load(snap, &settings.Runtime{})
	if code, _ := call(admin.URL, "POST", "/admin/reload", "Bearer "+token); code != 403 {
		t.Errorf("token no longer configured: %d, want 403", code)
	}
}

// The empty token never matches, not even the empty string's hash (which
// config refuses): "Authorization: Bearer" alone reads as that token.
func TestAdmin_EmptyTokenNeverMatches(t *testing.T) {
	empty := sha256.Sum256(nil)
	if adminTokenMatches("", &empty) {
		t.Error(`"" matched the SHA-256 of ""`)
	}
	one := sha256.Sum256([]byte("t"))
	if !adminTokenMatches("t", &one) {
		t.Error(`"t" did not match its own SHA-256`)
	}
}
