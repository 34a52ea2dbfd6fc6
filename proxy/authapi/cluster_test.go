package authapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy/authn"
	"github.com/gatehouse-dev/gatehouse/proxy/httperr"
	"github.com/gatehouse-dev/gatehouse/proxy/session"
	"github.com/gatehouse-dev/gatehouse/settings"
	"github.com/gatehouse-dev/gatehouse/store/memstore"
	"github.com/gatehouse-dev/gatehouse/store/redisstore"
)

const clusterRedirect = "https://gate.example.test/auth/oauth/idp/callback"

// instance is one gatehouse instance of a deployment: its own Handler,
// its own snapshot compiled from the shared configuration, its own Redis
// client.
type instance struct {
	h    *Handler
	snap *policy.Snapshot
	rt   *settings.Runtime
}

// clusterSnapshot compiles the deployment's configuration: the sessions
// block (HS256), admin root ("rootpw") and an oauth block "idp" of app
// "web".
func clusterSnapshot(t *testing.T) *policy.Snapshot {
	t.Helper()
	snap, err := policy.New(policy.Spec{
		Sessions: &policy.SessionsSpec{
			HMACKey: []byte("test-signing-key-0123456789abcdef-0123456789"), TTL: time.Hour,
			RefreshTTL: 24 * time.Hour, CacheSize: 100, Issuer: "gatehouse-test",
		},
		Apps:  []policy.AppSpec{{Name: "web", Active: true}},
		OAuth: []policy.OAuthSpec{{Name: "idp", App: "web"}},
	})
	if err != nil {
		t.Fatalf("policy.New: %v", err)
	}
	return snap
}

func newInstances(t *testing.T, idp *testidp.IdP, n int) []*instance {
	t.Helper()
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	idp.Register(idp.ClientID(), idp.ClientSecret(), clusterRedirect)
	var out []*instance
	for range n {
		c := redis.NewClient(srv.ClientOptions())
		t.Cleanup(func() { _ = c.Close() })
		sessions, err := session.NewManager(session.Options{Revocations: memstore.NewRevocations(nil)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sessions.Close)
		out = append(out, &instance{
			h: New(Options{
				Sessions:     sessions,
				LoginBudgets: redisstore.NewBudgets(c, "gh:"),
				OAuthStates:  redisstore.NewOneTime(c, "gh:"),
			}),
			snap: clusterSnapshot(t),
			rt: &settings.Runtime{OAuth: map[string]settings.OAuth{"idp": {
				Name: "idp", Provider: "oidc", ClientID: idp.ClientID(), ClientSecret: idp.ClientSecret(),
				RedirectURL: clusterRedirect, Issuer: idp.Issuer(),
			}}},
		})
	}
	return out
}

func (in *instance) serve(r *http.Request) (*Request, *httptest.ResponseRecorder, error) {
	w := httptest.NewRecorder()
	q := &Request{W: w, R: r, Path: r.URL.Path, Snap: in.snap, Runtime: in.rt, Keys: in.snap.SessionKeys(),
		Client: netip.MustParseAddr("192.0.2.1"), ID: "req"}
	return q, w, in.h.Serve(q)
}

// An OIDC login begun on instance A completes on instance B with a
// session, and the callback replayed on A or B is refused (400
// oauth_bad_state): the cookie's key comes from the configuration, the
// used states from Redis.
func TestCluster_OAuthAcrossInstances(t *testing.T) {
	idp := testidp.New(t)
	in := newInstances(t, idp, 2)
	a, b := in[0], in[1]

	q, w, err := a.serve(httptest.NewRequest(http.MethodGet, "https://gate.example.test/auth/oauth/idp/login?next=/app", nil))
	if err != nil || q.Status != http.StatusFound {
		t.Fatalf("login on A: %v, status %d", err, q.Status)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(w.Result().Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	callback := func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, resp.Header.Get("Location"), nil)
		for _, c := range w.Result().Cookies() {
			r.AddCookie(c)
		}
		return r
	}

	q, cw, err := b.serve(callback())
	if err != nil || q.Status != http.StatusFound || q.Reason != reasonOAuthLogin || cw.Header().Get("Location") != "/app" {
		t.Fatalf("callback on B: %v, status %d, reason %q", err, q.Status, q.Reason)
	}
	if !strings.Contains(strings.Join(cw.Header()["Set-Cookie"], "\n"), authn.SessionCookie+"=ey") {
		t.Fatalf("no session cookie: %v", cw.Header()["Set-Cookie"])
	}
	for name, x := range map[string]*instance{"A": a, "B": b} {
		_, _, err := x.serve(callback())
		var e *httperr.Error
		if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Reason != reasonOAuthBadState {
			t.Errorf("replay on %s: %v, want 400 %s", name, err, reasonOAuthBadState)
		}
	}
	if n := idp.TokenRequests(); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
}

// Failed logins spread over two instances spend one budget: after
// FailBurst failures, alternately on A and B, both refuse the next
// attempt with 429, before any password is checked.
func TestCluster_SharedFailedLoginBudget(t *testing.T) {
	in := newInstances(t, testidp.New(t), 2)
	for _, x := range in {
		x.snap = adminSnapshot(t) // compiled once per instance, same signing key
	}
	login := func(x *instance, pw string) error {
		r := httptest.NewRequest(http.MethodPost, "/auth/login", strings.NewReader(fmt.Sprintf(`{"username":"root","password":%q}`, pw)))
		r.Header.Set("Content-Type", "application/json")
		_, _, err := x.serve(r)
		return err
	}
	for i := range FailBurst {
		var e *httperr.Error
		if err := login(in[i%2], "wrong"); !errors.As(err, &e) || e.Status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	for name, x := range map[string]*instance{"A": in[0], "B": in[1]} {
		checks := x.h.PasswordChecks()
		var e *httperr.Error
		if err := login(x, "rootpw"); !errors.As(err, &e) || e.Status != http.StatusTooManyRequests {
			t.Errorf("%s after %d failures over A and B: %v, want 429", name, FailBurst, err)
		}
		if x.h.PasswordChecks() != checks {
			t.Errorf("%s checked a password of a blocked login", name)
		}
	}
}

// The derived keys are a function of the signing key alone: two snapshots
// compiled from one configuration (two instances) derive the same, another
// key derives others, HS256 and Ed25519 alike, and the cache follows the
// snapshot in service.
func TestDerivedKeys_FromConfiguration(t *testing.T) {
	mk := func(hmacKey []byte, edSeed []byte) *policy.SessionKeys {
		ss := &policy.SessionsSpec{HMACKey: hmacKey, TTL: time.Hour, RefreshTTL: 24 * time.Hour, CacheSize: 10, Issuer: "i"}
		if edSeed != nil {
			ss.HMACKey, ss.Ed25519Key = nil, ed25519.NewKeyFromSeed(edSeed)
		}
		k, err := policy.NewSessionKeys(ss)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k1 := bytes.Repeat([]byte{1}, 32)
	seed := bytes.Repeat([]byte{2}, 32)
	var c1, c2 keyCache
	for _, tc := range []struct {
		name string
		a, b *policy.SessionKeys
		same bool
	}{
		{"HS256, same key", mk(k1, nil), mk(k1, nil), true},
		{"Ed25519, same key", mk(nil, seed), mk(nil, seed), true},
		{"HS256, other key", mk(k1, nil), mk(bytes.Repeat([]byte{3}, 32), nil), false},
		{"Ed25519, other key", mk(nil, seed), mk(nil, bytes.Repeat([]byte{4}, 32)), false},
	} {
		da, db := c1.get(tc.a), c2.get(tc.b)
		if bytes.Equal(da.binding, db.binding) != tc.same || bytes.Equal(da.userHash, db.userHash) != tc.same {
			t.Errorf("%s: derived keys equal = %v, want %v", tc.name, !tc.same, tc.same)
		}
		if len(da.binding) != 32 || bytes.Equal(da.binding, da.userHash) {
			t.Errorf("%s: binding and username keys not separate 32-byte keys", tc.name)
		}
		if c1.get(tc.a) != da {
			t.Errorf("%s: derived again for the same keys", tc.name)
		}
	}
}

// countingHandler counts the records logged at WARN.
type countingHandler struct{ warns atomic.Int32 }

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn {
		h.warns.Add(1)
	}
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

// With LimitsOnError = open, a budget store that is down lets logins
// proceed to the password check (the right password logs in, a wrong one
// is a plain 401), and the warnings are bounded: one for many errors.
func TestHandler_LimitsFailOpen(t *testing.T) {
	sh := newStoreHandler(t)
	logs := &countingHandler{}
	sh.h = New(Options{Sessions: sh.h.sessions, LoginBudgets: sh.budgets, LimitsOnError: LimitsOpen, Logger: slog.New(logs)})
	sh.budgets.spentDown.Store(true)
	sh.budgets.spendDown.Store(true)
	if _, err := sh.login(t, "rootpw"); err != nil {
		t.Fatalf("login with the budgets down, failing open: %v", err)
	}
	for range 30 {
		_, err := sh.login(t, "wrong")
		var e *httperr.Error
		if !errors.As(err, &e) || e.Status != http.StatusUnauthorized {
			t.Fatalf("wrong password with the budgets down, failing open: %v, want 401", err)
		}
	}
	if n := sh.h.PasswordChecks(); n != 31 {
		t.Errorf("%d passwords checked, want 31", n)
	}
	if n := logs.warns.Load(); n != 1 {
		t.Errorf("%d warnings for 61 store errors, want 1", n)
	}
	// Back up: the limits count again (no failure was counted meanwhile).
	sh.budgets.spentDown.Store(false)
	sh.budgets.spendDown.Store(false)
	for range FailBurst {
		_, _ = sh.login(t, "wrong")
	}
	_, err := sh.login(t, "rootpw")
	var e *httperr.Error
	if !errors.As(err, &e) || e.Status != http.StatusTooManyRequests {
		t.Errorf("after the store came back and %d failures: %v, want 429", FailBurst, err)
	}
}

// An unknown LimitsOnError is a programming error: New panics.
func TestHandler_LimitsOnErrorChecked(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New accepted LimitsOnError \"ajar\"")
		}
	}()
	New(Options{LimitsOnError: "ajar"})
}
