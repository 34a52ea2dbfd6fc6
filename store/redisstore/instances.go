package redisstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/store"
)

// Heartbeat defaults (InstancesOptions).
const (
	DefaultHeartbeatInterval = 5 * time.Second
	DefaultHeartbeatTTL      = 15 * time.Second
	// maxInstancesListed bounds what List reads: far more instances than
	// any cluster runs (the index only holds live ones).
	maxInstancesListed = 1000
)

// InstancesOptions configure NewInstances.
type InstancesOptions struct {
	// ID is this instance's id (required): its key is
	// prefix+"instance:"+ID.
	ID string
	// Interval is how often the instance publishes its InstanceInfo;
	// DefaultHeartbeatInterval if zero.
	Interval time.Duration
	// TTL is how long an entry lives without a new heartbeat: an instance
	// that died disappears from List within TTL. DefaultHeartbeatTTL if
	// zero; raised to twice Interval if shorter, so that one late
	// heartbeat does not hide a live instance.
	TTL time.Duration
	// Logger receives the heartbeat's failures and recoveries (one record
	// per change); nil discards them.
	Logger *slog.Logger
	// Info returns what to publish (required); it is called before every
	// heartbeat, so a reload shows within Interval. Its ID is replaced
	// by ID and its HeartbeatAt by the time of publication.
	Info func() store.InstanceInfo
}

// Instances publishes this instance's InstanceInfo with a TTL (a
// heartbeat) and lists the instances that do so, for GET /admin/instances.
//
// Keys: prefix+"instance:"+id, a string holding the JSON InstanceInfo,
// written with SET PX TTL at every heartbeat; and prefix+"instances", a
// sorted set indexing them (member the id, score the Unix ms at which the
// entry expires, on the Redis server's clock). A heartbeat is one script:
// SET the entry, drop the index members whose score has passed
// (ZREMRANGEBYSCORE), ZADD this one, and keep the index's own expiry at
// least TTL (so an index whose instances all stopped disappears too).
// List reads the index (ZRANGE) and the entries (MGET): no KEYS or SCAN,
// and an index member whose entry expired is skipped. Close deletes the
// entry and its index member, so a stopped instance disappears at once.
//
// Heartbeats run in their own goroutine; no request waits for them.
type Instances struct {
	rdb      redis.UniversalClient
	key      string // prefix+"instance:"+id
	index    string // prefix+"instances"
	prefix   string
	opts     InstancesOptions
	log      *slog.Logger
	cancel   context.CancelFunc
	done     chan struct{}
	once     sync.Once
	failures int // consecutive failed heartbeats; only the heartbeat goroutine uses it
}

// heartbeatScript: KEYS[1] the entry, KEYS[2] the index; ARGV[1] the
// JSON, ARGV[2] the TTL in ms, ARGV[3] the id.
var heartbeatScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[3])
if redis.call('PTTL', KEYS[2]) < ttl then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return 1
`)

// NewInstances starts publishing opts.Info every opts.Interval, the first
// time at once (in the background: an unreachable Redis does not delay
// the caller). Stop it with Close.
func NewInstances(rdb redis.UniversalClient, prefix string, opts InstancesOptions) (*Instances, error) {
	if opts.ID == "" || opts.Info == nil {
		return nil, errors.New("redisstore: NewInstances needs an ID and an Info func")
	}
	opts.Interval = cmp.Or(opts.Interval, DefaultHeartbeatInterval)
	opts.TTL = max(cmp.Or(opts.TTL, DefaultHeartbeatTTL), 2*opts.Interval)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	i := &Instances{
		rdb:    rdb,
		key:    prefix + "instance:" + opts.ID,
		index:  prefix + "instances",
		prefix: prefix,
		opts:   opts,
		log:    log.With("component", "cluster"),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go i.run(ctx)
	return i, nil
}

func (i *Instances) run(ctx context.Context) {
	defer close(i.done)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := i.Beat(ctx)
		if ctx.Err() != nil {
			return
		}
		i.record(err)
		t.Reset(i.opts.Interval)
	}
}

// record logs the first failure of a series and the recovery after one.
func (i *Instances) record(err error) {
	switch {
	case err != nil && i.failures == 0:
		i.log.Warn("instance heartbeat failed; this instance may be missing from GET /admin/instances", "id", i.opts.ID, "error", err.Error())
	case err == nil && i.failures > 0:
		i.log.Info("instance heartbeat resumed", "id", i.opts.ID, "failed", i.failures)
	}
	if err != nil {
		i.failures++
	} else {
		i.failures = 0
	}
}

// Beat publishes opts.Info now (the background loop calls it every
// Interval; a caller may call it after a reload so that it shows at once).
func (i *Instances) Beat(ctx context.Context) error {
	info := i.opts.Info()
	info.ID = i.opts.ID
	info.HeartbeatAt = time.Now().UTC()
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, i.opts.Interval)
	defer cancel()
	err = heartbeatScript.Run(ctx, i.rdb, []string{i.key, i.index}, b, i.opts.TTL.Milliseconds(), i.opts.ID).Err()
	if err != nil {
		return fmt.Errorf("instance heartbeat: %w", err)
	}
	return nil
}

// List returns the live instances (those whose last heartbeat is younger
// than its TTL), this one included if its heartbeat reached Redis, sorted
// by start time, then id. Two round trips: ZRANGE of the index, MGET of
// the entries.
func (i *Instances) List(ctx context.Context) ([]store.InstanceInfo, error) {
	ids, err := i.rdb.ZRange(ctx, i.index, 0, maxInstancesListed-1).Result()
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	if len(ids) == 0 {
		return []store.InstanceInfo{}, nil
	}
	keys := make([]string, len(ids))
	for n, id := range ids {
		keys[n] = i.prefix + "instance:" + id
	}
	vals, err := i.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	out := make([]store.InstanceInfo, 0, len(vals))
	for n, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue // expired (or deleted) since the index was read
		}
		var info store.InstanceInfo
		if err := json.Unmarshal([]byte(s), &info); err != nil || info.ID != ids[n] {
			continue // not ours to interpret; never fails the listing
		}
		out = append(out, info)
	}
	SortInstances(out)
	return out, nil
}

// SortInstances orders instances by start time, then id.
func SortInstances(list []store.InstanceInfo) {
	slices.SortFunc(list, func(a, b store.InstanceInfo) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), cmp.Compare(a.ID, b.ID))
	})
}

// Close stops the heartbeats and removes this instance's entry and index
// member (bounded by a few seconds; if Redis does not answer, the entry
// expires by its TTL). It is idempotent.
func (i *Instances) Close() {
	i.once.Do(func() {
		i.cancel()
		<-i.done
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := i.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Del(ctx, i.key)
			p.ZRem(ctx, i.index, i.opts.ID)
			return nil
		})
		if err != nil {
			i.log.Warn("could not remove this instance's heartbeat; it expires by itself", "id", i.opts.ID, "error", err.Error())
		}
	})
}
