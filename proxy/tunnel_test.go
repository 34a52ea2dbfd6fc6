package proxy

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// Issue 18, point 12(b): logging out closes the session's tunnels.
func TestTunnel_LogoutClosesIt(t *testing.T) {
	up := newUpstream(t, echoForever())
	p := newTestProxy(t, upgradeSpec(t, up.URL))
	addr := p.Listener.Addr().String()
	tok := p.mustLogin(t, testKey, "alice", "alicepw")
	other := p.mustLogin(t, testKey, "alice", "alicepw")
	byBearer := mustUpgrade(t, addr, "/hr/employees/ws", keyHeader(testKey)+bearer(tok))
	byCookie := mustUpgrade(t, addr, "/hr/employees/ws", keyHeader(testKey)+cookie(tok))
	otherSession := mustUpgrade(t, addr, "/hr/employees/ws", keyHeader(testKey)+bearer(other))
	keyOnly := mustUpgrade(t, addr, "/hr/employees/ws", keyHeader(testKey))

	res, body := p.call(t, http.MethodPost, "/auth/logout", "", tok)
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d %s", res.StatusCode, body)
	}
	byBearer.wantClosed(t, "bearer tunnel after logout")
	byCookie.wantClosed(t, "cookie tunnel after logout")
	otherSession.ping(t)
	keyOnly.ping(t)
	if !strings.Contains(p.log.String(), `"reason":"session_revoked"`) {
		t.Errorf("no log line says why the tunnel closed:\n%s", p.log.String())
	}
}

// A refresh revokes the token it replaces: tunnels opened with it close.
func TestTunnel_RefreshClosesTheOldTokensTunnels(t *testing.T) {
	up := newUpstream(t, echoForever())
	p := newTestProxy(t, upgradeSpec(t, up.URL))
	tok := p.mustLogin(t, testKey, "alice", "alicepw")
	tun := mustUpgrade(t, p.Listener.Addr().String(), "/hr/employees/ws", keyHeader(testKey)+bearer(tok))
	res, body := p.call(t, http.MethodPost, "/auth/refresh", testKey, tok)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("refresh: %d %s", res.StatusCode, body)
	}
	tun.wantClosed(t, "tunnel after refresh")
}

// Issue 18, point 12(b): a tunnel ends when its session expires.
func TestTunnel_ExpiryClosesIt(t *testing.T) {
	up := newUpstream(t, echoForever())
	spec := upgradeSpec(t, up.URL)
	spec.Sessions.TTL = 2 * time.Second
	p := newTestProxy(t, spec)
	addr := p.Listener.Addr().String()
	tok := p.mustLogin(t, testKey, "alice", "alicepw")
	tun := mustUpgrade(t, addr, "/hr/employees/ws", keyHeader(testKey)+bearer(tok))
	keyOnly := mustUpgrade(t, addr, "/hr/employees/ws", keyHeader(testKey))
	tun.wantClosed(t, "tunnel after the session's expiry")
	keyOnly.ping(t)
}

// Issue 18, point 12(b): a reload re-decides every open tunnel; those the
// new configuration would refuse are closed, the others stay.
func TestTunnel_ReloadReDecides(t *testing.T) {
	up := newUpstream(t, echoForever())
	for _, tc := range []struct {
		name       string
		apiKeyOnly bool
		admin      bool
		change     func(*policy.Spec)
		closed     bool
	}{
		{"unchanged", false, false, func(*policy.Spec) {}, false},
		{"other user deactivated", false, false, func(s *policy.Spec) { s.Users[2].Active = false }, false},
		{"user deactivated", false, false, func(s *policy.Spec) { s.Users[0].Active = false }, true},
		{"user removed", false, false, func(s *policy.Spec) { s.Users = s.Users[1:] }, true},
		{"app deactivated", false, false, func(s *policy.Spec) { s.Apps[0].Active = false }, true},
		{"role deactivated", false, false, func(s *policy.Spec) { s.Roles[1].Active = false }, true},
		{"user's role changed to one denied the path", false, false, func(s *policy.Spec) { s.Users[0].Roles = map[string]string{"portal": "reader"} }, true},
		{"grant removed", false, false, func(s *policy.Spec) { s.Roles[1].Grants = s.Roles[1].Grants[:0] }, true},
		{"upstream deactivated", false, false, func(s *policy.Spec) { s.Upstreams[0].Active = false }, true},
		{"signing key changed", false, false, func(s *policy.Spec) { s.Sessions.HMACKey = []byte(strings.Repeat("k", 40)) }, true},
		{"admin: unchanged", false, true, func(*policy.Spec) {}, false},
		{"admin deactivated", false, true, func(s *policy.Spec) { s.Admins[0].Active = false }, true},
		{"api key: unchanged", true, false, func(*policy.Spec) {}, false},
		{"api key: other app deactivated", true, false, func(s *policy.Spec) { s.Apps[2].Active = false }, false},
		{"api key: app deactivated", true, false, func(s *policy.Spec) { s.Apps[0].Active = false }, true},
		{"api key: default role denied the path", true, false, func(s *policy.Spec) { s.Apps[0].DefaultRole = "manager"; s.Roles[1].Grants = s.Roles[1].Grants[:0] }, true},
		// Issue 21 point 7: key rotation.
		{"api key: another key added to the app", true, false, func(s *policy.Spec) { s.Apps[0].Keys = []policy.KeySpec{{SHA256: sum("key-next"), Label: "next"}} }, false},
		{"api key: the key replaced", true, false, func(s *policy.Spec) { s.Apps[0].KeySHA256 = sum("key-next") }, true},
		{"api key: the key past its new not_after", true, false, func(s *policy.Spec) {
			s.Apps[0].KeySHA256 = [32]byte{}
			s.Apps[0].Keys = []policy.KeySpec{{SHA256: sum(testKey), Label: "old", NotAfter: time.Now().Add(-time.Second)}}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := upgradeSpec(t, up.URL)
			p := newTestProxy(t, spec)
			addr := p.Listener.Addr().String()
			// /hr/employees/1/salary: manager (alice) may, reader (the
			// app's default role) may not.
			path, extra := "/hr/employees/1/salary", keyHeader(testKey)+bearer(p.mustLogin(t, testKey, "alice", "alicepw"))
			switch {
			case tc.apiKeyOnly:
				path, extra = "/hr/employees/ws", keyHeader(testKey)
			case tc.admin:
				extra = bearer(p.mustLogin(t, "", "root", "rootpw"))
			}
			tun := mustUpgrade(t, addr, path, extra)
			next := upgradeSpec(t, up.URL)
			next.Hash = "reloaded"
			tc.change(&next)
			snap, err := policy.New(next)
			if err != nil {
				t.Fatalf("policy.New: %v", err)
			}
			p.srv.Load(snap, nil)
			if tc.closed {
				tun.wantClosed(t, "tunnel after the reload")
				return
			}
			tun.ping(t)
		})
	}
}

// A tunnel whose upgrade was authorized on a snapshot that a reload
// replaced before the upstream answered is decided again on the new one.
func TestTunnel_ReloadBeforeTheUpstreamAnswers(t *testing.T) {
	answer := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(answer) }) }
	arrived := make(chan struct{}, 1)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-answer
		echoForever()(w, r)
	})
	t.Cleanup(release) // before the upstream's Close, which waits for the handler
	p := newTestProxy(t, upgradeSpec(t, up.URL))
	tok := p.mustLogin(t, testKey, "alice", "alicepw")
	c, br := sendUpgrade(t, p.Listener.Addr().String(), "/hr/employees/ws", keyHeader(testKey)+bearer(tok))
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the upgrade did not reach the upstream")
	}
	next := upgradeSpec(t, up.URL)
	next.Users[0].Active = false
	snap, err := policy.New(next)
	if err != nil {
		t.Fatal(err)
	}
	p.srv.Load(snap, nil)
	release()
	res, tun := readUpgrade(t, c, br)
	if tun != nil {
		tun.wantClosed(t, "tunnel of a user deactivated while it opened")
		return
	}
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("got %d, want 401 or a closed tunnel", res.StatusCode)
	}
}

// A cookie session's tunnel from a cors origin is decided again with its
// Origin: it stays while the cors block allows the origin with
// credentials, and closes when a reload takes that away.
func TestTunnel_ReloadReDecidesTheOrigin(t *testing.T) {
	up := newUpstream(t, echoForever())
	p := newTestProxy(t, upgradeSpec(t, up.URL))
	tok := p.mustLogin(t, testKey, "alice", "alicepw")
	tun := mustUpgrade(t, p.Listener.Addr().String(), "/hr/employees/cors/ws", keyHeader(testKey)+cookie(tok)+"Origin: "+portalOrigin+"\r\n")
	load := func(change func(*policy.Spec)) {
		t.Helper()
		next := upgradeSpec(t, up.URL)
		change(&next)
		snap, err := policy.New(next)
		if err != nil {
			t.Fatal(err)
		}
		p.srv.Load(snap, nil)
	}
	load(func(*policy.Spec) {})
	tun.ping(t)
	load(func(s *policy.Spec) { s.CORS[0].Credentials = false })
	tun.wantClosed(t, "tunnel from an origin no longer allowed with credentials")
	if !strings.Contains(p.log.String(), `"reason":"upgrade_origin_refused"`) {
		t.Errorf("no log line says why the tunnel closed")
	}
}

// Server.Close ends open tunnels: http.Server.Shutdown does not track
// hijacked connections.
func TestTunnel_ServerCloseClosesIt(t *testing.T) {
	up := newUpstream(t, echoForever())
	p := newTestProxy(t, testSpec(t, up.URL))
	tun := mustUpgrade(t, p.Listener.Addr().String(), "/hr/employees/ws", keyHeader(testKey))
	if err := p.srv.Close(); err != nil {
		t.Fatal(err)
	}
	tun.wantClosed(t, "tunnel after Server.Close")
}
