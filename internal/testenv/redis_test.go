package testenv

import (
	"testing"
	"time"
)

// The Redis helpers themselves: a server with an ACL user answers only
// that user, a restart comes back empty, and sentinels follow a failover.
func TestRedis_ACLRestartAndSentinel(t *testing.T) {
	r := StartRedis(t, RedisOptions{User: "gh", UserPassword: "s3cret"})
	if _, err := r.Do("SET", "k", "v"); err != nil {
		t.Fatalf("SET as the ACL user: %v", err)
	}
	anon := &Redis{Addr: r.Addr}
	if _, err := anon.Do("GET", "k"); err == nil {
		t.Fatal("the default user may read; want it disabled")
	}
	r.Restart(t)
	if v, err := r.Do("DBSIZE"); err != nil || v != int64(0) {
		t.Fatalf("after restart: DBSIZE %v, %v; want 0 (no persistence)", v, err)
	}

	m := StartRedis(t, RedisOptions{})
	rep := StartRedis(t, RedisOptions{ReplicaOf: m})
	s := StartSentinels(t, m, 3)
	if got, err := s.MasterAddr(); err != nil || got != m.Addr {
		t.Fatalf("master %q, %v; want %s", got, err, m.Addr)
	}
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	got, err := s.WaitForFailover(m.Addr, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got != rep.Addr {
		t.Fatalf("new master %s, want the replica %s", got, rep.Addr)
	}
}

func TestRedis_TLS(t *testing.T) {
	r := StartRedis(t, RedisOptions{TLS: true, Password: "pw"})
	if v, err := r.Do("PING"); err != nil || v != "PONG" {
		t.Fatalf("PING over TLS: %v, %v", v, err)
	}
	if r.URL() != "rediss://:pw@"+r.Addr {
		t.Fatalf("URL %q", r.URL())
	}
}
