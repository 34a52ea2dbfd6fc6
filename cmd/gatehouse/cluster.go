package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/gatehouse-dev/gatehouse/settings"
	"github.com/gatehouse-dev/gatehouse/store"
	"github.com/gatehouse-dev/gatehouse/store/redisstore"
)

// newInstanceID returns this process's instance id: 12 random hex digits,
// new at every start. It names the process in its logs and in GET
// /admin/config (and, later, in the cluster's heartbeats).
func newInstanceID() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}

// cluster is what serve keeps of the cluster block: the Redis client and
// the stores built on it. Its zero value (no cluster block) has no client
// and an empty Set: everything in memory.
type cluster struct {
	client *redisstore.Client // nil without a cluster block
	stores store.Set
}

// openCluster builds the Redis client of cfg (nil: no cluster block) and
// the stores on it. Redis that does not answer at start does not stop
// gatehouse: the failure is logged, the client's health reports down and
// its background check keeps trying (with backoff), and each store
// operation fails or succeeds on its own as Redis comes and goes. Only
// settings that cannot make a client are an error.
func openCluster(ctx context.Context, cfg *settings.Cluster, logger *slog.Logger) (*cluster, error) {
	if cfg == nil {
		return &cluster{}, nil
	}
	c, err := redisstore.New(cfg, logger)
	if err != nil {
		return nil, err
	}
	if err := c.Ping(ctx); err != nil {
		logger.Error("cluster redis unreachable at start; starting anyway, shared state is unavailable until it answers",
			"component", "cluster", "server", c.Server(), "error", err.Error())
	}
	return &cluster{client: c, stores: clusterStores(c)}, nil
}

// clusterStores returns the Redis stores of the cluster's client.
//
// TODO(issue 20, merge): fill in with the redisstore constructors
// (revocations.go, onetime.go, budgets.go, certificates.go) as they are
// merged, e.g. store.Set{Revocations: redisstore.NewRevocations(c.Redis(),
// c.Prefix(), …), …}. Until then every member is nil, which means in
// memory: a cluster block connects and reports its health, but shares
// nothing yet.
func clusterStores(c *redisstore.Client) store.Set {
	_ = c
	return store.Set{}
}

// state returns the client's health for GET /admin/config; nil without
// a cluster block.
func (c *cluster) state() func() (bool, time.Time, string) {
	if c.client == nil {
		return nil
	}
	return c.client.State
}

// close stops the client; it does nothing without one.
func (c *cluster) close() {
	if c.client != nil {
		c.client.Close()
	}
}
