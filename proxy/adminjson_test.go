package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/reload"
	"github.com/gatehouse-dev/gatehouse/settings"
	"github.com/gatehouse-dev/gatehouse/store"
)

// snakeCase is what every key of a JSON answer must look like.
var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// dataKeys are objects whose keys are data, not field names: the
// configuration hashes of GET /admin/instances.
var dataKeys = map[string]bool{"config_hashes": true}

// jsonProblems walks v (a decoded JSON value) and lists every key that is
// not snake_case and every null, by path.
func jsonProblems(path string, v any) []string {
	var out []string
	switch v := v.(type) {
	case nil:
		out = append(out, path+": null")
	case map[string]any:
		for k, e := range v {
			if !snakeCase.MatchString(k) && !dataKeys[path[strings.LastIndex(path, ".")+1:]] {
				out = append(out, fmt.Sprintf("%s: key %q is not snake_case", path, k))
			}
			out = append(out, jsonProblems(path+"."+k, e)...)
		}
	case []any:
		for i, e := range v {
			out = append(out, jsonProblems(fmt.Sprintf("%s[%d]", path, i), e)...)
		}
	}
	return out
}

func TestJSONProblems(t *testing.T) {
	for _, c := range []struct {
		body string
		bad  bool
	}{
		{`{"config_hash":"x","upstreams":[],"cluster":{"up":true}}`, false},
		{`{"configHash":"x"}`, true},
		{`{"needs_restart":null}`, true},
		{`{"a":[{"LastError":"x"}]}`, true},
		{`{"a":[null]}`, true},
		{`{"session_cache":{"CacheHits":1}}`, true},
		{`{"config_hashes":{"ABC":1}}`, false},
		{`{"config_hashes":{"ABC":null}}`, true},
	} {
		var v any
		if err := json.Unmarshal([]byte(c.body), &v); err != nil {
			t.Fatal(err)
		}
		if got := jsonProblems("$", v); (len(got) > 0) != c.bad {
			t.Errorf("%s: problems %q, want bad = %v", c.body, got, c.bad)
		}
	}
}

// Every JSON answer of the admin listener and of /auth/, in every state
// that changes its shape (not ready, draining, before and after reloads,
// a rejected reload, instances with and without Redis, refusals), has
// snake_case keys and no null.
func TestAdminJSON_SnakeCaseNoNull(t *testing.T) {
	const adminToken = "gh_admin_walk-every-answer"
	sum := sha256.Sum256([]byte(adminToken))
	rt := &settings.Runtime{AdminTokenSHA256: &sum}
	up := newUpstream(t, nil)
	spec := sessionSpec(t, up.URL)
	snap, err := policy.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	var redisDown, failReload, withRestart atomic.Bool
	srv := New(Options{Logger: discardLogger(), InstanceID: "0123456789ab",
		ClusterState: func() (bool, time.Time, string) {
			if redisDown.Load() {
				return false, time.Now(), "redis 127.0.0.1:1: refused"
			}
			return true, time.Now(), ""
		}})
	t.Cleanup(func() { srv.Close() })
	rl := reload.New(srv, reload.Options{Logger: discardLogger(),
		Load: func() (*policy.Snapshot, *settings.Runtime, error) {
			if failReload.Load() {
				return nil, nil, diagnosed{"x.hcl:1:1: Unknown role"}
			}
			return snap, rt, nil
		},
		NeedsRestart: func(*settings.Runtime) []string {
			if withRestart.Load() {
				return []string{"listen"}
			}
			return nil
		},
	})
	self := func() store.InstanceInfo { return store.InstanceInfo{Hostname: "h", PID: 1} }
	pub := httptest.NewServer(srv)
	t.Cleanup(pub.Close)
	adminWith := func(opts AdminOptions) *httptest.Server {
		ts := httptest.NewServer(srv.AdminHandler(opts))
		t.Cleanup(ts.Close)
		return ts
	}
	admin := adminWith(AdminOptions{Reload: rl, Self: self, Instances: func(ctx context.Context) ([]store.InstanceInfo, error) {
		if redisDown.Load() {
			return nil, errors.New("redis down")
		}
		return []store.InstanceInfo{{ID: "0123456789ab", ConfigHash: "testhash"}, {ID: "other", ConfigHash: "old"}}, nil
	}})
	bare := adminWith(AdminOptions{}) // no reloader, no instances: 501s
	p := &testProxy{Server: pub, srv: srv}

	checked := 0
	check := func(what string, base, method, path, key, bearer string, body string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		res, text := do(t, http.DefaultClient, req)
		if res.StatusCode == http.StatusNoContent {
			return
		}
		var v any
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			t.Errorf("%s: %s %s answered %d, not JSON: %q", what, method, path, res.StatusCode, text)
			return
		}
		checked++
		for _, pr := range jsonProblems("$", v) {
			t.Errorf("%s: %s %s (%d): %s\n%s", what, method, path, res.StatusCode, pr, text)
		}
	}

	check("not ready", admin.URL, "GET", "/readyz", "", "", "")
	check("not ready", admin.URL, "GET", "/admin/config", "", adminToken, "")
	srv.Load(snap, rt)
	check("ready", admin.URL, "GET", "/readyz", "", "", "")
	check("first config", admin.URL, "GET", "/admin/config", "", adminToken, "")
	check("no credential", admin.URL, "GET", "/admin/config", "", "", "")
	check("wrong token", admin.URL, "POST", "/admin/reload", "", "wrong", "")
	check("unchanged", admin.URL, "POST", "/admin/reload", "", adminToken, "")
	withRestart.Store(true)
	check("needs restart", admin.URL, "POST", "/admin/reload", "", adminToken, "")
	failReload.Store(true)
	check("rejected", admin.URL, "POST", "/admin/reload", "", adminToken, "")
	check("after a rejected reload", admin.URL, "GET", "/admin/config", "", adminToken, "")
	check("instances", admin.URL, "GET", "/admin/instances", "", adminToken, "")
	redisDown.Store(true)
	check("redis down", admin.URL, "GET", "/admin/instances", "", adminToken, "")
	check("redis down", admin.URL, "GET", "/admin/config", "", adminToken, "")
	check("redis down", admin.URL, "GET", "/readyz", "", "", "")
	check("no reloader", bare.URL, "POST", "/admin/reload", "", adminToken, "")
	check("no instances", bare.URL, "GET", "/admin/instances", "", adminToken, "")
	check("no reloader", bare.URL, "GET", "/admin/config", "", adminToken, "")

	// /auth/ and the public listener's refusals.
	adminSession := p.mustLogin(t, "", "root", "rootpw")
	check("admin session", admin.URL, "GET", "/admin/config", "", adminSession, "")
	check("login", pub.URL, "POST", "/auth/login", testKey, "", `{"username":"alice","password":"alicepw"}`)
	check("bad login", pub.URL, "POST", "/auth/login", testKey, "", `{"username":"alice","password":"nope"}`)
	tok := p.mustLogin(t, testKey, "alice", "alicepw")
	check("session", pub.URL, "GET", "/auth/session", testKey, tok, "")
	check("admin session info", pub.URL, "GET", "/auth/session", "", adminSession, "")
	check("jwks", pub.URL, "GET", "/auth/jwks.json", "", "", "")
	check("refresh", pub.URL, "POST", "/auth/refresh", testKey, tok, "")
	check("no endpoint", pub.URL, "GET", "/auth/nope", "", "", "")
	check("public refusal", pub.URL, "GET", "/hr/employees", "", "", "")
	check("logout", pub.URL, "POST", "/auth/logout", "", adminSession, "")

	srv.Drain()
	check("draining", admin.URL, "GET", "/readyz", "", "", "")
	if checked < 25 {
		t.Errorf("only %d JSON answers checked", checked)
	}
}
