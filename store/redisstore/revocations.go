package redisstore

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/store"
	"github.com/gatehouse-dev/gatehouse/store/memstore"
)

// Defaults of RevocationsOptions.
const (
	DefaultStaleAfter   = 5 * time.Second
	DefaultStreamMaxLen = 10_000
	DefaultPruneEvery   = time.Minute
	maxBlock            = time.Second
	readCount           = 512
	readerMinBackoff    = 100 * time.Millisecond // the stream reader retries sooner than the health check:
	readerMaxBackoff    = 3 * time.Second        // every second without it counts against StaleAfter
	maxPending          = 1 << 16                // revocations kept for writing again (see Revoke)
)

// ErrStale is Revoked's answer when the local view has not heard from
// Redis for longer than StaleAfter.
var ErrStale = errors.New("redisstore: revocations not heard from redis within the staleness bound")

// ErrNotLoaded is Revoked's (and Revoke's) answer before the revocations
// were first loaded from Redis.
var ErrNotLoaded = errors.New("redisstore: revocations not loaded from redis yet")

// errEpochPrefix starts the Lua script's refusal to write under another
// epoch.
const errEpochPrefix = "GATEHOUSE_EPOCH"

// revokeScript: KEYS epoch, set, stream; ARGV epoch, id, until ms, now ms,
// stream max length. It returns 1 when id was added (first), 0 when it was
// already there.
var revokeScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('` + errEpochPrefix + ` the revocation epoch changed')
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4])
local added = redis.call('ZADD', KEYS[2], 'NX', ARGV[3], ARGV[2])
if added == 1 then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'id', ARGV[2], 'until', ARGV[3])
end
return added
`)

// RevocationsOptions configure NewRevocations. Zero values mean the
// defaults.
type RevocationsOptions struct {
	Logger *slog.Logger     // default slog.Default()
	Now    func() time.Time // default time.Now
	// StaleAfter is how long the local view may go without hearing from
	// Redis before Revoked answers ErrStale; default DefaultStaleAfter.
	StaleAfter time.Duration
	// Block is how long one XREAD waits for events, and so the period of
	// the reader's heartbeat; default min(1 s, StaleAfter/4).
	Block time.Duration
	// StreamMaxLen trims the event stream (MAXLEN ~); default
	// DefaultStreamMaxLen. An instance cut off while more revocations
	// happened reloads the whole set instead of reading the stream.
	StreamMaxLen int64
	// PruneEvery is how often expired revocations are forgotten, locally
	// and in the set; default DefaultPruneEvery.
	PruneEvery time.Duration
	// OnRemote, if set, is called from the reader goroutine with each id
	// that another instance revoked, when this one learns of it (the
	// proxy closes the session's tunnels there). It must not block.
	OnRemote func(id string)
}

// Revocations is store.Revocations on Redis with a local view; see the
// package documentation. It is safe for concurrent use. Close stops its
// goroutine.
type Revocations struct {
	rdb                   redis.UniversalClient
	kEpoch, kSet, kStream string
	log                   *slog.Logger
	now                   func() time.Time
	staleAfter, block     time.Duration
	maxLen                int64
	pruneEvery            time.Duration
	onRemote              func(string)
	subscriber            atomic.Pointer[func(string)] // Subscribe's

	view      *memstore.Revocations
	heard     atomic.Pointer[time.Time] // last round trip that succeeded; nil before the first load
	notBefore atomic.Int64              // Unix ns: sessions issued before are revoked
	epoch     atomic.Pointer[epoch]     // the epoch the view belongs to
	reloads   atomic.Int64              // full loads of the set, for tests and logs

	// Owned by the reader (and by NewRevocations before it starts).
	last      string // stream id of the last event seen
	pos       int64  // how many events the stream had added up to last
	lastPrune time.Time

	// pending holds the revocations whose write to Redis failed (id ->
	// until): the reader writes them again once Redis answers.
	pendMu  sync.Mutex
	pending map[string]time.Time

	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

var _ store.Revocations = (*Revocations)(nil)

// epoch is one incarnation of the data in Redis.
type epoch struct {
	value string    // as stored
	start time.Time // when it was created
}

// NewRevocations returns Revocations on rdb under prefix and starts its
// reader. It loads the revocations once within ctx; if Redis cannot be
// reached, it does not fail: the reader keeps trying in the background,
// and until it succeeds Revoked answers ErrNotLoaded (Wait waits for it).
// It fails only for invalid arguments.
func NewRevocations(ctx context.Context, rdb redis.UniversalClient, prefix string, opts RevocationsOptions) (*Revocations, error) {
	if rdb == nil {
		return nil, errors.New("redisstore: nil redis client")
	}
	if opts.StaleAfter < 0 || opts.Block < 0 || opts.StreamMaxLen < 0 || opts.PruneEvery < 0 {
		return nil, errors.New("redisstore: negative revocation option")
	}
	r := &Revocations{
		rdb: rdb, kEpoch: prefix + "epoch", kSet: prefix + "revoked", kStream: prefix + "revocations",
		log: opts.Logger, now: opts.Now, staleAfter: opts.StaleAfter, block: opts.Block,
		maxLen: opts.StreamMaxLen, pruneEvery: opts.PruneEvery, onRemote: opts.OnRemote,
		done: make(chan struct{}), pending: map[string]time.Time{},
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.staleAfter == 0 {
		r.staleAfter = DefaultStaleAfter
	}
	if r.block == 0 {
		r.block = min(maxBlock, r.staleAfter/4)
	}
	r.block = max(r.block, time.Millisecond) // XREAD BLOCK 0 would wait forever
	if r.maxLen == 0 {
		r.maxLen = DefaultStreamMaxLen
	}
	if r.pruneEvery == 0 {
		r.pruneEvery = DefaultPruneEvery
	}
	r.view = memstore.NewRevocations(r.now)
	r.lastPrune = r.now()
	err := r.load(ctx)
	if err != nil {
		r.log.Warn("redisstore: revocations not loaded at start; retrying in the background", "err", err)
	}
	loaded := err == nil
	rctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.run(rctx, loaded)
	return r, nil
}

// Close stops the reader and waits for it (at most about Block). It does
// not close the Redis client. Revoked answers ErrStale once StaleAfter has
// passed.
func (r *Revocations) Close() {
	r.closeOnce.Do(func() {
		r.cancel()
		<-r.done
	})
}

// Revoke records id as revoked until until: locally at once, then in Redis
// in one round trip. first is true for the one call cluster-wide that
// added id. On error the id is still refused by this instance, and the
// reader writes it to Redis once Redis answers again (the caller still
// treats the revocation as failed: it was not stored when it answered). A
// retried logout of that token is refused as already revoked here, so
// without the retry the other instances would never learn of it.
func (r *Revocations) Revoke(ctx context.Context, id string, until time.Time) (first bool, err error) {
	_, _ = r.view.Revoke(ctx, id, until)
	ep := r.epoch.Load()
	if ep == nil {
		r.addPending(id, until)
		return false, ErrNotLoaded
	}
	added, err := r.write(ctx, ep, id, until)
	if err != nil {
		r.addPending(id, until)
		return false, fmt.Errorf("redisstore: revoke: %w", err)
	}
	return added, nil
}

// write runs the revoke script under ep.
func (r *Revocations) write(ctx context.Context, ep *epoch, id string, until time.Time) (bool, error) {
	added, err := revokeScript.Run(ctx, r.rdb, []string{r.kEpoch, r.kSet, r.kStream},
		ep.value, id, until.UnixMilli(), r.now().UnixMilli(), r.maxLen).Int()
	return added == 1, err
}

// addPending keeps a revocation whose write failed for writePending.
func (r *Revocations) addPending(id string, until time.Time) {
	r.pendMu.Lock()
	defer r.pendMu.Unlock()
	if _, ok := r.pending[id]; !ok && len(r.pending) >= maxPending {
		r.log.Error("redisstore: too many revocations waiting for redis; this one is refused here only", "max", maxPending)
		return
	}
	r.pending[id] = until
}

// Pending is the number of revocations waiting to be written to Redis
// again (their first write failed).
func (r *Revocations) Pending() int {
	r.pendMu.Lock()
	defer r.pendMu.Unlock()
	return len(r.pending)
}

// writePending writes the revocations whose first write failed, under the
// current epoch (one that changed meanwhile refuses their sessions anyway;
// publishing them again is harmless). Expired ones are dropped. The reader
// calls it after each check that found Redis answering.
func (r *Revocations) writePending(ctx context.Context) error {
	r.pendMu.Lock()
	if len(r.pending) == 0 {
		r.pendMu.Unlock()
		return nil
	}
	batch := maps.Clone(r.pending)
	r.pendMu.Unlock()
	ep, now, stored := r.epoch.Load(), r.now(), 0
	for id, until := range batch {
		if until.After(now) {
			if _, err := r.write(ctx, ep, id, until); err != nil {
				return fmt.Errorf("revoke pending: %w", err)
			}
			stored++
		}
		r.pendMu.Lock()
		if r.pending[id].Equal(until) {
			delete(r.pending, id)
		}
		r.pendMu.Unlock()
	}
	r.log.Info("redisstore: revocations that failed to be stored earlier are stored now", "revocations", stored)
	return nil
}

// Revoked reports whether id (of a session issued at issued) is revoked,
// from the local view: true when the view holds id or when issued is
// before the current epoch; ErrStale or ErrNotLoaded when the view cannot
// be trusted. It does not allocate.
func (r *Revocations) Revoked(id string, issued time.Time) (bool, error) {
	if ok, _ := r.view.Revoked(id, issued); ok {
		return true, nil
	}
	if err := r.Fresh(); err != nil {
		return false, err
	}
	if issued.Before(time.Unix(0, r.notBefore.Load())) {
		return true, nil
	}
	return false, nil
}

// Len is the number of revocations in the local view.
func (r *Revocations) Len() int { return r.view.Len() }

// Fresh returns nil when Revoked can be trusted, else ErrNotLoaded or
// ErrStale (for readiness checks).
func (r *Revocations) Fresh() error {
	h := r.heard.Load()
	switch {
	case h == nil:
		return ErrNotLoaded
	case r.now().Sub(*h) > r.staleAfter:
		return ErrStale
	}
	return nil
}

// Wait waits until the revocations were loaded once, or ctx ends.
func (r *Revocations) Wait(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for r.heard.Load() == nil {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrNotLoaded, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// NotBefore is the start of the current epoch (rounded up to a second):
// sessions issued before it are revoked. It is zero before the first load.
func (r *Revocations) NotBefore() time.Time {
	if r.epoch.Load() == nil {
		return time.Time{}
	}
	return time.Unix(0, r.notBefore.Load())
}

// run is the reader: sync until it fails, then back off and sync again.
func (r *Revocations) run(ctx context.Context, loaded bool) {
	defer close(r.done)
	attempt := 0
	for {
		err := r.sync(ctx, loaded, func() { attempt = 0 })
		if ctx.Err() != nil {
			return
		}
		// Once loaded, a reconnect catches up from the stream; sync
		// loads the set again if the stream cannot tell.
		loaded = r.epoch.Load() != nil
		attempt++
		d := jitteredBackoff(attempt, readerMinBackoff, readerMaxBackoff)
		r.log.Warn("redisstore: revocation stream", "err", err, "retry_in", d)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// sync loads the set unless loaded, then follows the stream until an error.
// ok is called after each successful check. The view counts as current
// (touch) only after a check found the epoch unchanged and no events
// missed, or after a load.
func (r *Revocations) sync(ctx context.Context, loaded bool, ok func()) error {
	if !loaded {
		if err := r.load(ctx); err != nil {
			return err
		}
	}
	for {
		before, posBefore := r.last, r.pos
		res, err := r.rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{r.kStream, before}, Count: readCount, Block: r.block}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("xread: %w", err)
		}
		for _, s := range res {
			for _, m := range s.Messages {
				r.apply(ctx, m)
				r.last = m.ID
				r.pos++
			}
		}
		ep, st, err := r.check(ctx)
		if err != nil {
			return err
		}
		ok()
		switch cur := r.epoch.Load(); {
		case ep == nil || ep.value != cur.value:
			if err := r.load(ctx); err != nil {
				return err
			}
		case st.missed(before, posBefore):
			r.log.Info("redisstore: revocation stream trimmed past this instance's position; loading the set", "last", before)
			if err := r.load(ctx); err != nil {
				return err
			}
		default:
			// Heard from Redis, under the epoch the view belongs to, and
			// nothing missed: the view is current.
			r.touch()
		}
		if err := r.writePending(ctx); err != nil {
			return err
		}
		if now := r.now(); now.Sub(r.lastPrune) >= r.pruneEvery {
			r.lastPrune = now
			r.view.Prune()
			if err := r.rdb.ZRemRangeByScore(ctx, r.kSet, "-inf", "("+strconv.FormatInt(now.UnixMilli(), 10)).Err(); err != nil {
				return fmt.Errorf("prune: %w", err)
			}
		}
	}
}

// check reads the epoch (nil when missing) and the stream's state in one
// round trip.
func (r *Revocations) check(ctx context.Context) (*epoch, streamState, error) {
	pipe := r.rdb.Pipeline()
	getE := pipe.Get(ctx, r.kEpoch)
	info := pipe.XInfoStream(ctx, r.kStream)
	_, _ = pipe.Exec(ctx)
	ep, err := epochOf(getE)
	if err != nil {
		return nil, streamState{}, err
	}
	st, err := streamOf(info)
	if err != nil {
		return nil, streamState{}, err
	}
	return ep, st, nil
}

// load reads the epoch, the live revocations and the stream's position in
// one MULTI, creating the epoch if it is missing, and makes them the
// view's. A changed epoch moves NotBefore to its start.
func (r *Revocations) load(ctx context.Context) error {
	for try := 0; ; try++ {
		now := r.now()
		pipe := r.rdb.TxPipeline()
		getE := pipe.Get(ctx, r.kEpoch)
		set := pipe.ZRangeByScoreWithScores(ctx, r.kSet, &redis.ZRangeBy{Min: "(" + strconv.FormatInt(now.UnixMilli(), 10), Max: "+inf"})
		info := pipe.XInfoStream(ctx, r.kStream)
		_, _ = pipe.Exec(ctx)
		ep, err := epochOf(getE)
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		if ep == nil {
			if try >= 2 {
				return errors.New("load: the epoch key vanishes as soon as it is created")
			}
			if err := r.createEpoch(ctx); err != nil {
				return err
			}
			continue // load again, under the epoch
		}
		members, err := set.Result()
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		st, err := streamOf(info)
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		prev := r.epoch.Load()
		for _, z := range members {
			id, _ := z.Member.(string)
			first, _ := r.view.Revoke(ctx, id, time.UnixMilli(int64(z.Score)))
			if first && prev != nil {
				r.remote(id)
			}
		}
		if prev == nil || prev.value != ep.value {
			nb := ep.start.Truncate(time.Second)
			if !nb.Equal(ep.start) {
				nb = nb.Add(time.Second)
			}
			if nb.UnixNano() > r.notBefore.Load() {
				r.notBefore.Store(nb.UnixNano())
			}
			if prev != nil {
				r.log.Warn("redisstore: the revocation epoch changed (redis lost its data?); sessions issued before its start are refused",
					"epoch", ep.value, "not_before", nb)
			} else {
				r.log.Info("redisstore: revocations loaded", "epoch", ep.value, "revocations", len(members))
			}
		}
		r.epoch.Store(ep)
		r.last, r.pos = st.last, st.added
		r.reloads.Add(1)
		r.touch()
		return nil
	}
}

// createEpoch sets a new epoch unless one exists.
func (r *Revocations) createEpoch(ctx context.Context) error {
	var b [16]byte
	_, _ = crand.Read(b[:]) // never fails
	v := hex.EncodeToString(b[:]) + " " + strconv.FormatInt(r.now().UnixMilli(), 10)
	if err := r.rdb.SetNX(ctx, r.kEpoch, v, 0).Err(); err != nil {
		return fmt.Errorf("create epoch: %w", err)
	}
	return nil
}

// apply records one stream event in the view.
func (r *Revocations) apply(ctx context.Context, m redis.XMessage) {
	id, _ := m.Values["id"].(string)
	ms, err := strconv.ParseInt(fmt.Sprint(m.Values["until"]), 10, 64)
	if id == "" || err != nil {
		r.log.Warn("redisstore: malformed revocation event", "stream_id", m.ID)
		return
	}
	if first, _ := r.view.Revoke(ctx, id, time.UnixMilli(ms)); first {
		r.remote(id)
	}
}

// remote tells OnRemote and the subscriber of a revocation made by
// another instance.
func (r *Revocations) remote(id string) {
	if r.onRemote != nil {
		r.onRemote(id)
	}
	if fn := r.subscriber.Load(); fn != nil {
		(*fn)(id)
	}
}

// Subscribe implements store.RevocationFeed: fn is called, from the
// reader goroutine, with each id another instance revoked, once this
// instance learns of it. A later call replaces fn.
func (r *Revocations) Subscribe(fn func(id string)) { r.subscriber.Store(&fn) }

// touch records a successful round trip.
func (r *Revocations) touch() {
	now := r.now()
	r.heard.Store(&now)
}

// epochOf parses GET epoch: nil, nil when the key is missing.
func epochOf(c *redis.StringCmd) (*epoch, error) {
	v, err := c.Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	_, ms, ok := strings.Cut(v, " ")
	n, perr := strconv.ParseInt(ms, 10, 64)
	if !ok || perr != nil {
		return nil, fmt.Errorf("malformed epoch %q", v)
	}
	return &epoch{value: v, start: time.UnixMilli(n)}, nil
}

// streamState is what XINFO STREAM tells about the stream.
type streamState struct {
	last    string // last-generated-id; "0-0" for a missing stream
	added   int64  // entries-added (Redis 7): how many entries were ever added
	length  int64
	firstID string
}

// missed reports whether events after last (the position-th added one)
// were trimmed before they were read. With entries-added (Redis 7) the
// test is exact: the oldest entry left is the (added-length+1)-th. Without
// it, an oldest entry after last may have had others trimmed before it.
func (st streamState) missed(last string, position int64) bool {
	if st.added > 0 {
		return st.added-st.length > position
	}
	return st.length > 0 && compareIDs(st.firstID, last) > 0
}

// streamOf reads XINFO STREAM; a missing stream is an empty one.
func streamOf(c *redis.XInfoStreamCmd) (streamState, error) {
	v, err := c.Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			return streamState{last: "0-0"}, nil
		}
		return streamState{}, err
	}
	st := streamState{last: v.LastGeneratedID, added: v.EntriesAdded, length: v.Length, firstID: v.FirstEntry.ID}
	if st.last == "" {
		st.last = "0-0"
	}
	return st, nil
}

// compareIDs orders two stream ids ("ms-seq").
func compareIDs(a, b string) int {
	am, as := splitID(a)
	bm, bs := splitID(b)
	switch {
	case am != bm:
		if am < bm {
			return -1
		}
		return 1
	case as != bs:
		if as < bs {
			return -1
		}
		return 1
	}
	return 0
}

func splitID(id string) (ms, seq uint64) {
	m, s, _ := strings.Cut(id, "-")
	ms, _ = strconv.ParseUint(m, 10, 64)
	seq, _ = strconv.ParseUint(s, 10, 64)
	return ms, seq
}
