package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/settings"
)

// Health checks of the background pinger.
const (
	// PingInterval is how often a healthy client checks its server.
	PingInterval = time.Second
	// minBackoff and maxBackoff bound the wait between checks of a server
	// that failed: it doubles from minBackoff after each failure, up to
	// maxBackoff, each wait jittered (so that instances do not come back
	// all at once).
	minBackoff = 250 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Pool sizing. Redis is used per login, logout and refresh, not per
// proxied request, so a few connections serve any load; a stream reader
// blocks one connection for itself.
const (
	poolSize      = 16
	dialerRetries = 2
)

// Client is a go-redis client for a cluster block, with the key prefix
// and a health view. Build it with New or Open and release it with Close.
// It is safe for concurrent use.
type Client struct {
	rdb    redis.UniversalClient
	prefix string
	server string // where it connects, without secrets (settings.Cluster.Server)
	log    *slog.Logger
	ping   time.Duration // timeout of one health check

	ctx    context.Context // ends on Close: stops the pinger and its PING
	cancel context.CancelFunc
	done   chan struct{} // closed when the pinger has returned
	once   sync.Once

	errs atomic.Uint64 // failed commands and dials (errorCounter)

	mu      sync.Mutex
	up      bool
	since   time.Time
	lastErr string
}

// Open builds a client for cfg and checks it with one PING bounded by the
// dial timeout (plus the read timeout for the answer). On failure it
// releases the client and returns an error that names the server, never
// a password.
func Open(ctx context.Context, cfg *settings.Cluster, log *slog.Logger) (*Client, error) {
	c, err := New(cfg, log)
	if err != nil {
		return nil, err
	}
	if err := c.Ping(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// New builds a client for cfg without touching the network, and starts
// its background pinger: State reports down until the first check
// succeeds (Ping checks at once). The server may be unreachable: go-redis
// connects on first use and reconnects by itself. The error is for
// settings that cannot make a client.
func New(cfg *settings.Cluster, log *slog.Logger) (*Client, error) {
	if cfg == nil {
		return nil, errors.New("redisstore: no cluster settings")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var tlsConf *tls.Config
	if cfg.TLS {
		// ServerName stays empty: each connection verifies the name it
		// dialled (the server, or each sentinel and the master it names).
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: cfg.RootCAs}
	}
	// One server (Addrs has one entry, MasterName is empty) or a
	// Sentinel master: NewUniversalClient makes a plain or a failover
	// client, never a Redis Cluster one (not supported; the config allows
	// one address only).
	opts := &redis.UniversalOptions{
		Addrs:            []string{cfg.Addr},
		MasterName:       cfg.SentinelMaster,
		SentinelPassword: cfg.SentinelPassword,
		Username:         cfg.Username,
		Password:         cfg.Password,
		DB:               cfg.DB,
		DialTimeout:      cfg.DialTimeout,
		ReadTimeout:      cfg.ReadTimeout,
		WriteTimeout:     cfg.WriteTimeout,
		DialerRetries:    dialerRetries,
		PoolSize:         poolSize,
		TLSConfig:        tlsConf,
		DisableIdentity:  true,
	}
	if cfg.Sentinel() {
		opts.Addrs = cfg.SentinelAddrs
	}
	rdb := redis.NewUniversalClient(opts)
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		rdb:     rdb,
		prefix:  cfg.KeyPrefix,
		server:  cfg.Server(),
		log:     log.With("component", "cluster"),
		ping:    cfg.DialTimeout + cfg.ReadTimeout,
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
		since:   time.Now(),
		lastErr: "not checked yet",
	}
	rdb.AddHook(errorCounter{n: &c.errs})
	go c.pinger()
	return c, nil
}

// Redis returns the go-redis client. Every key written through it must
// come from Key.
func (c *Client) Redis() redis.UniversalClient { return c.rdb }

// Prefix returns the key prefix (it ends with ":").
func (c *Client) Prefix() string { return c.prefix }

// Server describes the server for logs and messages: "127.0.0.1:6390" or
// "sentinel master NAME via ADDR,…". It holds no secret.
func (c *Client) Server() string { return c.server }

// Key joins parts with ":" after the prefix: Key("rev", id) is
// "gatehouse:rev:<id>" with the default prefix.
func (c *Client) Key(parts ...string) string {
	n := len(c.prefix)
	for i, p := range parts {
		n += len(p)
		if i > 0 {
			n++
		}
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(c.prefix)
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(p)
	}
	return b.String()
}

// State reports whether the server answered the last health check, since
// when that has been so, and the last failure's text ("" while up).
func (c *Client) State() (up bool, since time.Time, lastErr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up, c.since, c.lastErr
}

// Errors returns how many Redis commands (and connection attempts) have
// failed since the client was built, not counting a missing key, or a
// context the caller ended. For the metrics
// (gatehouse_cluster_redis_errors_total).
func (c *Client) Errors() uint64 { return c.errs.Load() }

// Ping checks the server now, records the outcome in State and returns
// the error, which names the server.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.ping)
	defer cancel()
	err := c.rdb.Ping(ctx).Err()
	if err != nil {
		err = fmt.Errorf("redis %s: %w", c.server, err)
	}
	if c.ctx.Err() == nil { // a check cut short by Close says nothing
		c.record(err)
	}
	return err
}

// record updates the health view and logs each change of state.
func (c *Client) record(err error) {
	now := time.Now()
	c.mu.Lock()
	wasUp, since := c.up, c.since
	switch {
	case err == nil && !wasUp:
		c.up, c.since, c.lastErr = true, now, ""
	case err != nil && wasUp:
		c.up, c.since, c.lastErr = false, now, err.Error()
	case err != nil:
		c.lastErr = err.Error()
	}
	c.mu.Unlock()
	switch {
	case err == nil && !wasUp:
		c.log.Info("cluster redis up", "server", c.server, "prefix", c.prefix, "down_for", now.Sub(since).Round(time.Millisecond).String())
	case err != nil && wasUp:
		c.log.Error("cluster redis down", "server", c.server, "error", err.Error())
	}
}

// pinger checks the server every PingInterval while it answers, and with
// a jittered exponential backoff while it does not, until Close.
func (c *Client) pinger() {
	defer close(c.done)
	t := time.NewTimer(PingInterval)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		err := c.Ping(c.ctx)
		if c.ctx.Err() != nil {
			return // closing: the error is ours, not the server's
		}
		next := PingInterval
		if err != nil {
			failures++
			next = backoff(failures)
		} else {
			failures = 0
		}
		t.Reset(next)
	}
}

// backoff is the wait after the nth consecutive failure of the health
// check: jitteredBackoff between minBackoff and maxBackoff.
func backoff(n int) time.Duration { return jitteredBackoff(n, minBackoff, maxBackoff) }

// jitteredBackoff is the wait after the nth consecutive failure (n >= 1):
// lo doubled n-1 times, at most hi, then jittered to [d/2, d) ("equal
// jitter"), so that instances that lost Redis together do not come back
// all at once.
func jitteredBackoff(n int, lo, hi time.Duration) time.Duration {
	d := hi
	if n < 16 {
		d = min(hi, lo<<(n-1))
	}
	return d/2 + rand.N(d/2)
}

// Close stops the pinger, waits for it to return, and closes the
// connections. It is idempotent.
func (c *Client) Close() {
	c.once.Do(func() {
		c.cancel()
		<-c.done
		_ = c.rdb.Close()
	})
}

// Logger adapts a slog.Logger to go-redis's own logging (redis.SetLogger),
// which otherwise prints plain text to stderr: its messages (a failed
// dial, a new master from Sentinel) become debug records with component
// "redis". The client's State and its "cluster redis down/up" records
// already say what an operator needs. go-redis keeps one logger per
// process: install it once, from main, before any client exists.
type Logger struct{ Log *slog.Logger }

// Printf implements go-redis's logging interface.
func (l Logger) Printf(ctx context.Context, format string, v ...any) {
	if l.Log == nil || !l.Log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	l.Log.DebugContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)), "component", "redis")
}
