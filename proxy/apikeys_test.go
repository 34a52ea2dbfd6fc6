package proxy

import (
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// rotationSpec is testSpec with portal holding three more keys besides its
// unlabeled one: a new one, one expired and one expiring soon.
func rotationSpec(t *testing.T, upstreamURL string, now time.Time) policy.Spec {
	spec := testSpec(t, upstreamURL)
	spec.Apps[0].Keys = []policy.KeySpec{
		{SHA256: sum("key-2026-12"), Label: "2026-12"},
		{SHA256: sum("key-2025-01"), Label: "2025-01", NotAfter: now.Add(-time.Minute)},
		{SHA256: sum("key-soon"), Label: "soon", NotAfter: now.Add(time.Hour)},
	}
	spec.Apps[1].Keys = []policy.KeySpec{{SHA256: sum("key-old-labeled"), Label: "old-1"}}
	return spec
}

func TestAPIKeys_RotationAndExpiry(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, rotationSpec(t, up.URL, time.Now()))
	unlabeled := sum(testKey)
	for _, tc := range []struct {
		name, key     string
		status        int
		reason        string
		app, logKey   string
		reachUpstream bool
	}{
		{"unlabeled key: its hash prefix", testKey, 200, "grant_allowed", "portal", hex.EncodeToString(unlabeled[:4]), true},
		{"new labeled key", "key-2026-12", 200, "grant_allowed", "portal", "2026-12", true},
		{"not yet expired", "key-soon", 200, "grant_allowed", "portal", "soon", true},
		{"expired: own reason, app and key named", "key-2025-01", 401, "api_key_expired", "portal", "2025-01", false},
		{"inactive app: key named", "key-old-labeled", 401, "app_inactive", "old", "old-1", false},
		{"unknown key: nothing named", "key-nobody", 401, "unknown_api_key", "", "", false},
		{"no key", "", 401, "missing_api_key", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(up.requests())
			hdr := map[string]string{}
			if tc.key != "" {
				hdr["X-API-Key"] = tc.key
			}
			res, body := p.get(t, "/hr/employees/7", hdr)
			if res.StatusCode != tc.status {
				t.Fatalf("got %d %s; want %d", res.StatusCode, body, tc.status)
			}
			if reached := len(up.requests()) > before; reached != tc.reachUpstream {
				t.Errorf("reached upstream = %v; want %v", reached, tc.reachUpstream)
			}
			recs := p.log.records(t)
			last := recs[len(recs)-1]
			if last["reason"] != tc.reason || last["app"] != tc.app || last["key"] != tc.logKey {
				t.Errorf("logged reason %v, app %v, key %v; want %s, %q, %q", last["reason"], last["app"], last["key"], tc.reason, tc.app, tc.logKey)
			}
		})
	}
}

// A key's not_after is checked against each request's time: it stops
// working when it passes, with no reload.
func TestAPIKeys_ExpiresWithoutReload(t *testing.T) {
	up := newUpstream(t, nil)
	spec := testSpec(t, up.URL)
	notAfter := time.Now().Add(1500 * time.Millisecond)
	spec.Apps[0].Keys = []policy.KeySpec{{SHA256: sum("key-short"), Label: "short", NotAfter: notAfter}}
	p := newTestProxy(t, spec)
	hdr := map[string]string{"X-API-Key": "key-short"}
	sent := time.Now()
	res, body := p.get(t, "/hr/employees/7", hdr)
	if !sent.After(notAfter) && res.StatusCode != http.StatusOK {
		t.Fatalf("before not_after: got %d %s; want 200", res.StatusCode, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		before := len(up.requests())
		sent := time.Now()
		res, body := p.get(t, "/hr/employees/7", hdr)
		answered := time.Now()
		// The proxy reads its clock between sent and answered.
		if res.StatusCode == http.StatusOK && sent.After(notAfter) {
			t.Fatalf("accepted when sent at %s, after not_after %s", sent, notAfter)
		}
		if res.StatusCode == http.StatusUnauthorized {
			if !answered.After(notAfter) {
				t.Fatalf("refused with the answer at %s, before not_after %s: %s", answered, notAfter, body)
			}
			if len(up.requests()) != before {
				t.Error("the expired key's request reached the upstream")
			}
			recs := p.log.records(t)
			if r := recs[len(recs)-1]; r["reason"] != "api_key_expired" || r["key"] != "short" {
				t.Errorf("logged reason %v, key %v; want api_key_expired, short", r["reason"], r["key"])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("key still accepted %s after its not_after", time.Since(notAfter))
		}
		time.Sleep(50 * time.Millisecond) // polling a clock, not synchronizing
	}
}

// With sessions: a user session counts with any of its app's keys, the
// /auth/ API refuses an expired key with its reason like the pipeline
// does, and both log the key.
func TestAPIKeys_WithSessions(t *testing.T) {
	up := newUpstream(t, nil)
	spec := sessionSpec(t, up.URL)
	spec.Apps[0].Keys = []policy.KeySpec{
		{SHA256: sum("key-2026-12"), Label: "2026-12"},
		{SHA256: sum("key-2025-01"), Label: "2025-01", NotAfter: time.Now().Add(-time.Minute)},
	}
	p := newTestProxy(t, spec)
	lastLogged := func() map[string]any {
		recs := p.log.records(t)
		return recs[len(recs)-1]
	}
	if res, _, body := p.login(t, "key-2025-01", "alice", "alicepw"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("login with the expired key: got %d %s; want 401", res.StatusCode, body)
	}
	if r := lastLogged(); r["reason"] != "api_key_expired" || r["key"] != "2025-01" || r["app"] != "portal" {
		t.Errorf("login with the expired key logged reason %v, key %v, app %v", r["reason"], r["key"], r["app"])
	}
	tok := p.mustLogin(t, testKey, "alice", "alicepw") // through the unlabeled key
	for _, tc := range []struct {
		path, key, reason string
		status            int
	}{
		{"/hr/employees/1", "key-2026-12", "grant_allowed", http.StatusOK}, // another key of the same app
		{"/hr/employees/1", "key-2025-01", "api_key_expired", http.StatusUnauthorized},
		{"/auth/session", "key-2025-01", "api_key_expired", http.StatusUnauthorized},
		{"/auth/session", "key-2026-12", "", http.StatusOK},
	} {
		before := len(up.requests())
		res, body := p.call(t, "GET", tc.path, tc.key, tok)
		if res.StatusCode != tc.status {
			t.Errorf("GET %s with %s: got %d %s; want %d", tc.path, tc.key, res.StatusCode, body, tc.status)
			continue
		}
		r := lastLogged()
		if r["key"] != strings.TrimPrefix(tc.key, "key-") || r["user"] != "alice" && tc.status == http.StatusOK {
			t.Errorf("GET %s with %s: logged key %v, user %v", tc.path, tc.key, r["key"], r["user"])
		}
		if tc.reason != "" && r["reason"] != tc.reason {
			t.Errorf("GET %s with %s: logged reason %v; want %s", tc.path, tc.key, r["reason"], tc.reason)
		}
		if tc.status != http.StatusOK && len(up.requests()) != before {
			t.Errorf("GET %s with %s: refused, but reached the upstream", tc.path, tc.key)
		}
	}
}
