package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/store"
)

// GET /admin/instances: admin session only; lists what Instances returns,
// converged when all serve one hash; this instance alone, not converged,
// with the error when the list cannot be read.
func TestAdmin_Instances(t *testing.T) {
	up := newUpstream(t, nil)
	snap, err := policy.New(sessionSpec(t, up.URL))
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Options{Logger: discardLogger(), InstanceID: "aaaaaaaaaaaa"})
	srv.Load(snap, nil)
	t.Cleanup(func() { srv.Close() })
	var list atomic.Value // []store.InstanceInfo
	var fail atomic.Bool
	self := func() store.InstanceInfo {
		h, at := srv.Loaded()
		return store.InstanceInfo{Hostname: "me", ConfigHash: h, LoadedAt: at}
	}
	admin := httptest.NewServer(srv.AdminHandler(AdminOptions{
		Self: self,
		Instances: func(ctx context.Context) ([]store.InstanceInfo, error) {
			if fail.Load() {
				return nil, errors.New("list instances: redis down")
			}
			return list.Load().([]store.InstanceInfo), nil
		},
	}))
	t.Cleanup(admin.Close)
	pub := httptest.NewServer(srv)
	t.Cleanup(pub.Close)
	p := &testProxy{Server: pub, srv: srv}
	adminTok := p.mustLogin(t, "", "root", "rootpw")
	userTok := p.mustLogin(t, testKey, "alice", "alicepw")
	get := func(tok string) (int, instancesStatus) {
		req, _ := http.NewRequest("GET", admin.URL+"/admin/instances", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, body := do(t, http.DefaultClient, req)
		var st instancesStatus
		if res.StatusCode == 200 {
			if err := json.Unmarshal([]byte(body), &st); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
		}
		return res.StatusCode, st
	}
	for _, tok := range []string{"", userTok} {
		if code, _ := get(tok); code != 401 {
			t.Errorf("without an admin session: %d", code)
		}
	}
	list.Store([]store.InstanceInfo{{ID: "aaaaaaaaaaaa", ConfigHash: "testhash"}, {ID: "bbbbbbbbbbbb", ConfigHash: "testhash"}})
	if code, st := get(adminTok); code != 200 || st.Self != "aaaaaaaaaaaa" || len(st.Instances) != 2 || !st.Converged || st.Hashes["testhash"] != 2 {
		t.Errorf("converged: %d %+v", code, st)
	}
	list.Store([]store.InstanceInfo{{ID: "aaaaaaaaaaaa", ConfigHash: "testhash"}, {ID: "bbbbbbbbbbbb", ConfigHash: "old"}})
	if code, st := get(adminTok); code != 200 || st.Converged || len(st.Hashes) != 2 {
		t.Errorf("not converged: %d %+v", code, st)
	}
	// This instance's first heartbeat not there yet: it is added.
	list.Store([]store.InstanceInfo{{ID: "bbbbbbbbbbbb", ConfigHash: "testhash"}})
	if code, st := get(adminTok); code != 200 || len(st.Instances) != 2 || st.Instances[1].Hostname != "me" || !st.Converged {
		t.Errorf("self added: %d %+v", code, st)
	}
	fail.Store(true)
	code, st := get(adminTok)
	if code != 200 || st.Converged || len(st.Instances) != 1 || st.Instances[0].ID != "aaaaaaaaaaaa" || st.Instances[0].ConfigHash != "testhash" || !strings.Contains(st.Error, "redis down") {
		t.Errorf("redis down: %d %+v", code, st)
	}

	// Without Instances: 501.
	bare := httptest.NewServer(srv.AdminHandler(AdminOptions{}))
	t.Cleanup(bare.Close)
	req, _ := http.NewRequest("GET", bare.URL+"/admin/instances", nil)
	req.Header.Set("Authorization", "Bearer "+adminTok)
	if res, _ := do(t, http.DefaultClient, req); res.StatusCode != 501 {
		t.Errorf("without Instances: %d", res.StatusCode)
	}
}

// /readyz stays 200 with the cluster's Redis down and says so in its
// body; without a cluster block the body has no cluster member.
func TestReadyz_ClusterState(t *testing.T) {
	up := newUpstream(t, nil)
	snap, err := policy.New(sessionSpec(t, up.URL))
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	var isUp atomic.Bool
	clustered := New(Options{Logger: discardLogger(), ClusterState: func() (bool, time.Time, string) {
		if isUp.Load() {
			return true, since, ""
		}
		return false, since, "redis 127.0.0.1:1: connection refused"
	}})
	plain := New(Options{Logger: discardLogger()})
	for _, s := range []*Server{clustered, plain} {
		s.Load(snap, nil)
		t.Cleanup(func() { s.Close() })
	}
	readyz := func(s *Server) (int, map[string]any) {
		h := httptest.NewServer(s.AdminHandler(AdminOptions{}))
		defer h.Close()
		res, body := do(t, http.DefaultClient, mustReq(t, h.URL+"/readyz"))
		m := map[string]any{}
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("%v: %q", err, body)
		}
		return res.StatusCode, m
	}
	code, body := readyz(clustered)
	if got := toJSON(body["cluster"]); code != 200 || body["status"] != "ready" ||
		got != `{"last_error":"redis 127.0.0.1:1: connection refused","since":"2026-12-07T06:00:00Z","up":false}` {
		t.Errorf("redis down: %d %v", code, body)
	}
	isUp.Store(true)
	if code, body := readyz(clustered); code != 200 || toJSON(body["cluster"]) != `{"since":"2026-12-07T06:00:00Z","up":true}` {
		t.Errorf("redis up: %d %v", code, body)
	}
	if code, body := readyz(plain); code != 200 || body["cluster"] != nil || body["config_hash"] != "testhash" {
		t.Errorf("no cluster: %d %v", code, body)
	}
}
