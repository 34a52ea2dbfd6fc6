// Package redisstore implements the store interfaces on a Redis (or
// Valkey) server shared by the instances of a cluster, for the cluster
// block of the configuration.
//
// [Client] is the connection every store of this package uses: a go-redis
// client (a plain one for redis:// and rediss://, a Sentinel failover
// client with sentinel_master), the configured key prefix, and a health
// view fed by a background PING. Every key gatehouse writes is built with
// [Client.Key], so that it starts with the prefix.
//
// Why go-redis and not rueidis: the proxied request path makes no Redis
// call at all (revocations are answered from a local view), so the client
// only matters per login, logout and refresh: a pipelined SET NX PX plus
// XADD, or one EVALSHA. rueidis allocates less and, on an idle loopback
// server, its one-at-a-time pipeline was about a third faster, while a lone
// EVALSHA was level (figures in docs/benchmarks.md, "Redis client"); both stay far
// below the cost of a password hash or an IdP round trip on the same
// requests. go-redis was chosen for its Sentinel support through the same
// client type, its maturity and its plain API, which the other stores of
// this package share.
//
// Valkey speaks the same protocol; the tests run against Redis 7 (Valkey
// is not packaged for the Debian release the tests use).
//
// # Revocations
//
// [Revocations] keeps three keys:
//
//   - prefix+"revoked", a sorted set: member the session id, score the
//     Unix milliseconds until which the revocation matters (the token's
//     refresh deadline). It is the durable set: an instance that starts,
//     or that lost track of the stream, loads it with ZRANGEBYSCORE from
//     now. Revoke removes the members whose score has passed
//     (ZREMRANGEBYSCORE) before it adds one, and every instance does so
//     now and then, so entries expire when the token would have.
//   - prefix+"revocations", a stream of events (fields id and until),
//     trimmed with MAXLEN ~ [RevocationsOptions.StreamMaxLen]. It is how
//     the instances hear of each other's revocations.
//   - prefix+"epoch", a string "<random hex> <Unix ms>": which incarnation
//     of the data the others belong to, created with SET NX.
//
// Revoke is one round trip: a Lua script that checks the epoch, prunes the
// set, adds the id with ZADD NX (the cluster-wide "first": of two
// instances revoking one id, exactly one gets 1, which is the single-use
// guarantee of refresh) and, when it was first, XADDs the event. One
// structure answers both "first" and the start-up load, so a revocation
// costs one set member (and a stream entry while it is within MaxLen),
// not also a key of its own. The id is recorded in the local view before
// the script runs, so this instance refuses the token even when Redis
// fails; the error is still returned, and the caller fails closed (no
// refresh, no successful logout). Such a revocation is kept and written by
// the reader after its next check that finds Redis answering: a retried
// logout is refused as already revoked by this instance, so nothing else
// would store it.
//
// Revoked is a read of the local view (a memstore.Revocations) and of two
// atomics: no network, no allocation. One goroutine feeds the view: it
// blocks in XREAD on the stream from the last id it has seen (at most
// [RevocationsOptions.Block] at a time), then checks the epoch and the
// stream's state (XINFO STREAM) in one pipelined round trip; a check that
// finds the epoch unchanged and nothing missed counts as hearing from
// Redis. The reader counts the events it has read since its last load, so
// entries-added and length tell exactly whether the stream was trimmed
// past its position (it was cut off while more than MaxLen revocations
// happened); then it loads the set again, in a MULTI with the epoch and
// the stream's last id and entries-added, so that set and position agree
// (Redis 6, without entries-added, compares the oldest entry's id with the
// last one read, and may load once too often). MaxLen thus
// sizes only how long an instance may be cut off and still catch up from
// the stream; correctness never depends on it. The check runs after the
// read, against the position before it, so trimming between two commands
// cannot slip through.
//
// # Staleness
//
// When the reader has not heard from Redis for
// [RevocationsOptions.StaleAfter], Revoked answers [ErrStale] for every id
// it does not already know to be revoked (the caller refuses the session:
// 503). On errors the reader retries with jittered exponential backoff
// (equal jitter, up to readerMaxBackoff), so that instances do not reconnect
// in step, and catches up when Redis answers again: no restart needed.
// Until the first load succeeds, Revoked answers [ErrNotLoaded].
//
// # An empty Redis never un-revokes
//
// Revocations live in Redis; a Redis restarted without persistence, or a
// failover to an empty replica, loses them. The epoch key detects it: each
// instance remembers the epoch it loaded from, and the Revoke script
// refuses to write under another one (the instance gets an error, so the
// caller fails closed). When the reader finds the epoch missing, it
// creates a new one (SET NX: all instances agree on whichever was set
// first, and on its creation time); when it finds another one, it adopts
// it. From then on every session issued before the epoch's start (rounded
// up to the next second, the resolution of iat) is revoked: Revoked
// answers true for it, whatever its id. Users of those sessions log in
// again. [Revocations.NotBefore] tells session.Manager that point, so that
// a session issued in the epoch's first partial second gets it as its iat
// and is not refused at once. A fresh instance that finds an epoch also refuses sessions issued
// before it, which only matters right after a loss.
//
// The local view keeps what it knew before the loss (those ids stay
// refused on this instance until they expire); they are not published
// again: every one of them belongs to a session issued before the new
// epoch, which the epoch already refuses everywhere.
//
// The first instance to use an empty Redis creates the epoch too, so
// switching cluster mode on makes every user log in once.
//
// Requirements on Redis: keys without TTL must not be evicted
// (maxmemory-policy noeviction or volatile-*), the instances' clocks
// agree within a second or so (NTP; the epoch start and iat come from
// different instances), and on Redis Cluster the prefix must hold a hash
// tag ("gh{1}:") since the script touches three keys. Replication is
// asynchronous: a failover to a replica that has the epoch but missed the
// last writes loses those revocations (the instances that had heard of
// them keep refusing them).
package redisstore
