package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
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
	client        *redisstore.Client // nil without a cluster block
	stores        store.Set
	limitsOnError string
	// rateLimitsOnError is the cluster's rate_limits_on_error ("" without
	// a cluster block: memory budgets never fail).
	rateLimitsOnError string
	revocations       *redisstore.Revocations // closed with the client
}

// openCluster builds the Redis client of cfg (nil: no cluster block) and
// the stores on it. Redis that does not answer at start does not stop
// gatehouse: the failure is logged, the client's health reports down and
// its background check keeps trying (with backoff), and each store
// operation fails or succeeds on its own as Redis comes and goes (the
// revocations refuse sessions until they have loaded; see
// docs/operations.md, "Running several instances"). Only settings that
// cannot make a client or a store are an error.
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
	cl := &cluster{client: c, limitsOnError: cfg.LimitsOnError, rateLimitsOnError: cfg.RateLimitsOnError}
	if err := cl.openStores(ctx, cfg, logger.With("component", "cluster")); err != nil {
		c.Close()
		return nil, err
	}
	return cl, nil
}

// openStores builds the Redis stores of the cluster's client: every piece
// of state the instances share.
func (cl *cluster) openStores(ctx context.Context, cfg *settings.Cluster, log *slog.Logger) error {
	rdb, prefix := cl.client.Redis(), cl.client.Prefix()
	// The reader runs for the life of the process, not of ctx (start-up).
	revs, err := redisstore.NewRevocations(context.WithoutCancel(ctx), rdb, prefix, redisstore.RevocationsOptions{Logger: log})
	if err != nil {
		return fmt.Errorf("cluster revocations: %w", err)
	}
	certs, err := redisstore.NewCertificates(rdb, prefix, redisstore.CertificatesOptions{EncryptionSecret: []byte(cfg.EncryptionKey), Logger: log})
	if err != nil {
		revs.Close()
		return fmt.Errorf("cluster certificates: %w", err)
	}
	cl.revocations = revs
	budgets := redisstore.NewBudgets(rdb, prefix) // failed logins ("login-…") and rate limits ("rl:…")
	cl.stores = store.Set{
		Revocations:  revs,
		OneTime:      redisstore.NewOneTime(rdb, prefix),
		Budgets:      budgets,
		RateLimits:   budgets,
		Certificates: certs,
		Locker:       certs,
	}
	return nil
}

// state returns the client's health for GET /admin/config; nil without
// a cluster block.
func (c *cluster) state() func() (bool, time.Time, string) {
	if c.client == nil {
		return nil
	}
	return c.client.State
}

// close stops the revocations' reader and the client; it does nothing
// without a cluster block.
func (c *cluster) close() {
	if c.revocations != nil {
		c.revocations.Close()
	}
	if c.client != nil {
		c.client.Close()
	}
}
