package oauth_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
	"github.com/gatehouse-dev/gatehouse/proxy/authapi/oauth"
	"github.com/gatehouse-dev/gatehouse/store/redisstore"
)

// twoInstances returns two Flows as two gatehouse instances of one
// deployment would have them: no Options.Key (no key of their own
// process), each its own Redis client, one Redis.
func twoInstances(t *testing.T) (a, b *oauth.Flows) {
	t.Helper()
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	mk := func() *oauth.Flows {
		c := redis.NewClient(srv.ClientOptions())
		t.Cleanup(func() { _ = c.Close() })
		return oauth.NewFlows(oauth.Options{Used: redisstore.NewOneTime(c, "gh:")})
	}
	return mk(), mk()
}

// Both instances build the block from the same configuration: the same
// settings, and a key derived from the same configured secret.
func clusterBlock(idp *testidp.IdP, secret string) oauth.Config {
	cfg := oauth.Config{
		Name: "test", Provider: oauth.ProviderOIDC, ClientID: idp.ClientID(), ClientSecret: idp.ClientSecret(),
		RedirectURL: "https://gate.example.test/auth/oauth/test/callback", Issuer: idp.Issuer(),
		Key: oauth.BindingKey([]byte(secret)),
	}
	idp.Register(cfg.ClientID, cfg.ClientSecret, cfg.RedirectURL)
	return cfg
}

// authorize follows Begin's redirect to the IdP and returns the callback
// request the browser would send, with the binding cookie.
func authorize(t *testing.T, begun *httptest.ResponseRecorder) *http.Request {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(begun.Result().Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.Contains(loc, "code=") {
		t.Fatalf("IdP answered %d, Location %q", resp.StatusCode, loc)
	}
	r := httptest.NewRequest(http.MethodGet, loc, nil)
	for _, ck := range begun.Result().Cookies() {
		r.AddCookie(ck)
	}
	return r
}

func beginAt(t *testing.T, f *oauth.Flows, cfg oauth.Config) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "https://gate.example.test/auth/oauth/test/login", nil)
	if err := f.Begin(context.Background(), w, r, cfg, "/home", true); err != nil {
		t.Fatal(err)
	}
	return w
}

// A login begun on instance A completes on instance B (no sticky
// routing), and the callback replayed on either instance is refused
// before the IdP is asked again.
func TestCluster_BeginOnOneCompleteOnAnother(t *testing.T) {
	idp := testidp.New(t)
	a, b := twoInstances(t)
	cfg := clusterBlock(idp, "the sessions signing key of the deployment")
	callback := authorize(t, beginAt(t, a, cfg))

	id, next, err := b.Complete(context.Background(), httptest.NewRecorder(), callback, cfg, testClient, true)
	if err != nil || id != alice || next != "/home" {
		t.Fatalf("Complete on B: %+v %q %v", id, next, err)
	}
	for name, f := range map[string]*oauth.Flows{"A": a, "B": b} {
		replay := callback.Clone(context.Background())
		_, _, err := f.Complete(context.Background(), httptest.NewRecorder(), replay, cfg, testClient, true)
		if !errors.Is(err, oauth.ErrBadState) || !strings.Contains(err.Error(), "already used") {
			t.Errorf("replay on %s: %v, want ErrBadState", name, err)
		}
	}
	if n := idp.TokenRequests(); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
}

// Instances configured with another secret do not open each other's
// cookies, and a Config.Key of the wrong length is a configuration error.
func TestCluster_KeyFromConfiguration(t *testing.T) {
	idp := testidp.New(t)
	a, b := twoInstances(t)
	cfg := clusterBlock(idp, "secret one")
	callback := authorize(t, beginAt(t, a, cfg))
	other := cfg
	other.Key = oauth.BindingKey([]byte("secret two"))
	_, _, err := b.Complete(context.Background(), httptest.NewRecorder(), callback, other, testClient, true)
	if !errors.Is(err, oauth.ErrBadState) || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("other secret: %v", err)
	}

	if k1, k2 := oauth.BindingKey([]byte("s")), oauth.BindingKey([]byte("s")); len(k1) != 32 || !bytes.Equal(k1, k2) || bytes.Equal(k1, oauth.BindingKey([]byte("t"))) {
		t.Fatal("BindingKey is not a 32-byte function of its secret")
	}
	bad := cfg
	bad.Key = []byte("short")
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "https://gate.example.test/auth/oauth/test/login", nil)
	if err := a.Begin(context.Background(), w, r, bad, "/", true); !errors.Is(err, oauth.ErrConfig) || len(w.Result().Header) != 0 {
		t.Fatalf("Begin with a short key: %v, headers %v", err, w.Result().Header)
	}
}
