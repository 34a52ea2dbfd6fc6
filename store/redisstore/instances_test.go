package redisstore

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/store"
)

// waitList polls List until ok accepts it or the deadline passes.
func waitList(t *testing.T, i *Instances, within time.Duration, what string, ok func([]store.InstanceInfo) bool) []store.InstanceInfo {
	t.Helper()
	deadline := time.Now().Add(within)
	var last []store.InstanceInfo
	var lastErr error
	for time.Now().Before(deadline) {
		last, lastErr = i.List(context.Background())
		if lastErr == nil && ok(last) {
			return last
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v; last list %+v, error %v", what, within, last, lastErr)
	return nil
}

func ids(list []store.InstanceInfo) []string {
	var out []string
	for _, in := range list {
		out = append(out, in.ID)
	}
	return out
}

// Two instances see each other with what they publish; a reload shows
// within an interval; Close removes an instance at once; an instance that
// stopped without Close disappears by its TTL and is pruned from the index.
func TestInstances_HeartbeatsAndList(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	rdb := newClient(t, srv)
	started := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	var hashB atomic.Value
	hashB.Store("h1")
	newInst := func(id string, at time.Time, hash func() string) *Instances {
		i, err := NewInstances(newClient(t, srv), "gh:", InstancesOptions{ID: id, Interval: 50 * time.Millisecond, TTL: 300 * time.Millisecond,
			Info: func() store.InstanceInfo {
				return store.InstanceInfo{ID: "ignored", Hostname: "host-" + id, PID: 42, Version: "test", StartedAt: at, ConfigHash: hash()}
			}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(i.Close)
		return i
	}
	a := newInst("aaaa", started, func() string { return "h1" })
	b := newInst("bbbb", started.Add(-time.Minute), func() string { return hashB.Load().(string) })
	list := waitList(t, a, 3*time.Second, "both listed", func(l []store.InstanceInfo) bool { return len(l) == 2 })
	if got := ids(list); !slices.Equal(got, []string{"bbbb", "aaaa"}) { // by start time
		t.Errorf("order %v", got)
	}
	if list[1].Hostname != "host-aaaa" || list[1].PID != 42 || list[1].ConfigHash != "h1" || list[1].HeartbeatAt.IsZero() {
		t.Errorf("entry %+v", list[1])
	}
	hashB.Store("h2")
	waitList(t, a, 3*time.Second, "b's new hash", func(l []store.InstanceInfo) bool {
		return len(l) == 2 && l[0].ConfigHash == "h2"
	})

	// An instance that died without Close: one heartbeat with a short TTL.
	ctx := context.Background()
	dead, _ := json.Marshal(store.InstanceInfo{ID: "dead"})
	if err := heartbeatScript.Run(ctx, rdb, []string{"gh:instance:dead", "gh:instances"}, dead, 100, "dead").Err(); err != nil {
		t.Fatal(err)
	}
	waitList(t, a, 3*time.Second, "dead instance gone", func(l []store.InstanceInfo) bool {
		return !slices.Contains(ids(l), "dead") && len(l) == 2
	})
	// ...and pruned from the index by the next heartbeats.
	deadline := time.Now().Add(3 * time.Second)
	for rdb.ZScore(ctx, "gh:instances", "dead").Err() == nil {
		if time.Now().After(deadline) {
			t.Fatal("dead member still in the index")
		}
		time.Sleep(20 * time.Millisecond)
	}

	b.Close()
	if l, err := a.List(ctx); err != nil || !slices.Equal(ids(l), []string{"aaaa"}) {
		t.Errorf("after b.Close: %v %v", ids(l), err)
	}
	keys, err := rdb.Keys(ctx, "*").Result() // test only: every key under the prefix
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "gh:") {
			t.Errorf("key %q outside the prefix", k)
		}
	}
	if ttl := rdb.PTTL(ctx, "gh:instances").Val(); ttl <= 0 {
		t.Errorf("index without expiry: %v", ttl)
	}
	a.Close()
	if n := rdb.Exists(ctx, "gh:instance:aaaa").Val(); n != 0 {
		t.Error("entry left after Close")
	}
}

// Redis down: List fails (the admin endpoint says so); Redis back empty:
// the heartbeats publish again without a restart.
func TestInstances_RedisRestart(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	i, err := NewInstances(newClient(t, srv), "gh:", InstancesOptions{ID: "self", Interval: 50 * time.Millisecond,
		Info: func() store.InstanceInfo { return store.InstanceInfo{ConfigHash: "h"} }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(i.Close)
	waitList(t, i, 3*time.Second, "self listed", func(l []store.InstanceInfo) bool { return len(l) == 1 })
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := i.List(ctx); err == nil {
		t.Error("List with Redis stopped: no error")
	}
	srv.Restart(t)
	waitList(t, i, 5*time.Second, "self listed after restart", func(l []store.InstanceInfo) bool { return len(l) == 1 && l[0].ID == "self" })
}

func TestInstances_Options(t *testing.T) {
	if _, err := NewInstances(nil, "gh:", InstancesOptions{}); err == nil {
		t.Error("no ID, no Info: accepted")
	}
}
