package proxy

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testhttp"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/reload"
	"github.com/gatehouse-dev/gatehouse/settings"
)

// A reload keeps the pools of unchanged upstreams and closes those of
// removed ones once no request of the old config runs.
func TestReload_UpstreamPools(t *testing.T) {
	keep, gone := testhttp.NewConnCounter(t, nil), testhttp.NewConnCounter(t, nil)
	spec := testSpec(t, keep.URL)
	spec.Upstreams[1].URL = mustParseURL(t, gone.URL) // "pub" -> gone
	p := newTestProxy(t, spec)
	for _, path := range []string{"/hr/employees", "/pub/x"} {
		if res, _ := p.get(t, path, map[string]string{"X-API-Key": testKey}); res.StatusCode != 200 {
			t.Fatalf("%s: %d", path, res.StatusCode)
		}
	}
	next := testSpec(t, keep.URL)
	next.Upstreams = next.Upstreams[:1] // "pub" removed
	snap, err := policy.New(next)
	if err != nil {
		t.Fatal(err)
	}
	p.srv.Load(snap, nil)
	if res, _ := p.get(t, "/hr/employees", map[string]string{"X-API-Key": testKey}); res.StatusCode != 200 {
		t.Fatalf("after reload: %d", res.StatusCode)
	}
	if n := keep.Opened.Load(); n != 1 {
		t.Errorf("unchanged upstream: %d connections opened, want 1 (the pool survives)", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for gone.Closed.Load() < gone.Opened.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling a counter, bounded
	}
	if o, c := gone.Opened.Load(), gone.Closed.Load(); o != 1 || c != 1 {
		t.Errorf("removed upstream: %d opened, %d closed, want 1 and 1", o, c)
	}
}

func mustParseURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func discardLogger() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

// The admin endpoints want an admin session.
func TestAdmin_ConfigAndReload(t *testing.T) {
	up := newUpstream(t, nil)
	spec := sessionSpec(t, up.URL)
	var calls atomic.Int64
	var fail atomic.Bool
	first := spec
	first.Hash = "before" // the reload puts "testhash" in service
	snap0, err := policy.New(first)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := policy.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	downSince := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	srv := New(Options{Logger: discardLogger(), InstanceID: "0123456789ab",
		ClusterState: func() (bool, time.Time, string) { return false, downSince, "redis 127.0.0.1:1: refused" }})
	srv.Load(snap0, nil)
	t.Cleanup(func() { srv.Close() })
	rl := reload.New(srv, reload.Options{Logger: discardLogger(), Load: func() (*policy.Snapshot, *settings.Runtime, error) {
		calls.Add(1)
		if fail.Load() {
			return nil, nil, diagnosed{"x.hcl:1:1: Unknown role"}
		}
		return snap, &settings.Runtime{}, nil
	}})
	pub := httptest.NewServer(srv)
	t.Cleanup(pub.Close)
	admin := httptest.NewServer(srv.AdminHandler(AdminOptions{Reload: rl}))
	t.Cleanup(admin.Close)
	p := &testProxy{Server: pub, srv: srv}
	adminTok := p.mustLogin(t, "", "root", "rootpw")
	userTok := p.mustLogin(t, testKey, "alice", "alicepw")
	call := func(method, path, tok string) (int, map[string]any) {
		req, _ := http.NewRequest(method, admin.URL+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, body := do(t, http.DefaultClient, req)
		m := map[string]any{}
		_ = json.Unmarshal([]byte(body), &m)
		return res.StatusCode, m
	}
	for _, tok := range []string{"", userTok, "garbage"} {
		if code, _ := call("GET", "/admin/config", tok); code != 401 {
			t.Errorf("GET /admin/config with %.10q: %d, want 401", tok, code)
		}
		if code, _ := call("POST", "/admin/reload", tok); code != 401 {
			t.Errorf("POST /admin/reload with %.10q: %d, want 401", tok, code)
		}
	}
	if calls.Load() != 0 {
		t.Fatal("an unauthenticated reload ran")
	}
	code, body := call("POST", "/admin/reload", adminTok)
	if code != 200 || body["status"] != "reloaded" || calls.Load() != 1 {
		t.Errorf("reload: %d %v", code, body)
	}
	fail.Store(true)
	code, body = call("POST", "/admin/reload", adminTok)
	if code != 422 || body["status"] != "rejected" {
		t.Errorf("rejected reload: %d %v", code, body)
	}
	code, body = call("GET", "/admin/config", adminTok)
	if code != 200 || body["config_hash"] != "testhash" || body["reloads_failed"] != float64(1) || !strings.Contains(toJSON(body["last_error"]), "Unknown role") {
		t.Errorf("config: %d %v", code, body)
	}
	if strings.Contains(toJSON(body), testSigningKey) || strings.Contains(toJSON(body), "argon2id") {
		t.Error("/admin/config shows secrets")
	}
	if got := toJSON(body["cluster"]); body["instance"] != "0123456789ab" ||
		got != `{"last_error":"redis 127.0.0.1:1: refused","since":"2026-12-07T05:00:00Z","up":false}` {
		t.Errorf("config: instance %v, cluster %s", body["instance"], got)
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// diagnosed is a rejected configuration's error (reload.Diagnosed).
type diagnosed []string

func (d diagnosed) Error() string                { return strings.Join(d, "\n") }
func (d diagnosed) Diagnostics() ([]string, int) { return d, len(d) }

// TestAdmin_ConfigShowsSnapshotAndOutcomeTogether: GET /admin/config never
// shows a reloaded snapshot next to the outcome of the attempt before it
// (a fresh-clone CI run once read the new hash with the old error).
func TestAdmin_ConfigShowsSnapshotAndOutcomeTogether(t *testing.T) {
	up := newUpstream(t, nil)
	snaps := map[string]*policy.Snapshot{}
	for _, h := range []string{"even", "odd"} {
		spec := sessionSpec(t, up.URL)
		spec.Hash = h
		s, err := policy.New(spec)
		if err != nil {
			t.Fatal(err)
		}
		snaps[h] = s
	}
	srv := New(Options{Logger: discardLogger()})
	srv.Load(snaps["even"], nil)
	t.Cleanup(func() { srv.Close() })
	pub := httptest.NewServer(srv)
	t.Cleanup(pub.Close)
	adminTok := (&testProxy{Server: pub, srv: srv}).mustLogin(t, "", "root", "rootpw")
	// parity is the snapshot in service after n successful reloads.
	parity := func(n int) string {
		if n%2 == 1 {
			return "odd"
		}
		return "even"
	}
	// The reloads alternate: a rejected configuration, then the next
	// snapshot.
	var attempts int
	rl := reload.New(srv, reload.Options{Logger: discardLogger(), Load: func() (*policy.Snapshot, *settings.Runtime, error) {
		attempts++
		if attempts%2 == 1 {
			return nil, nil, diagnosed{"x.hcl:1:1: broken"}
		}
		return snaps[parity(attempts/2)], &settings.Runtime{}, nil
	}})
	admin := srv.AdminHandler(AdminOptions{Reload: rl})

	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= 200; i++ {
			if _, err := rl.Reload(context.Background(), "file"); err == nil {
				t.Error("a broken configuration reloaded")
			}
			if res, err := rl.Reload(context.Background(), "file"); err != nil || res.ConfigHash != parity(i) {
				t.Errorf("reload %d: %+v %v, want %s", i, res, err, parity(i))
			}
		}
	}()
	reads := 0
	for running := true; running; reads++ {
		select {
		case <-done:
			running = false
		default:
		}
		req := httptest.NewRequest("GET", "/admin/config", nil)
		req.Header.Set("Authorization", "Bearer "+adminTok)
		rec := httptest.NewRecorder()
		admin.ServeHTTP(rec, req)
		var st struct {
			ConfigHash string   `json:"config_hash"`
			ReloadsOK  int      `json:"reloads_ok"`
			LastError  []string `json:"last_error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || rec.Code != 200 {
			t.Fatalf("/admin/config: %d %s", rec.Code, rec.Body)
		}
		if want := parity(st.ReloadsOK); st.ConfigHash != want {
			t.Fatalf("read %d: config_hash %q after %d successful reloads (last_error %q), want %q", reads, st.ConfigHash, st.ReloadsOK, st.LastError, want)
		}
	}
	t.Logf("%d consistent reads during 200 reload pairs", reads)
}
