// Package store defines the state gatehouse instances may one day share,
// as four small interfaces: revoked session ids ([Revocations]), values
// that may be used once ([OneTime]: OAuth states), rate budgets with expiry
// ([Budgets]: failed logins; [RateLimits]: request rate limits) and the certificate cache
// ([Certificates]). It owns the contracts, not the implementations:
// store/memstore holds the in-memory ones every gatehouse uses today, and
// a networked backend (Redis or Valkey) is meant to sit beside it,
// implementing the same interfaces.
//
// # Errors
//
// Every method that can reach a backend takes a context and returns an
// error. An error means the operation may or may not have taken effect,
// and callers fail closed: a revocation that errs ends neither a logout
// nor a refresh successfully (no new token is issued), a one-time value
// that errs refuses the OAuth callback, and a budget that errs refuses the
// login before any password is checked. The in-memory implementations
// never return errors; a networked one returns its connection, timeout
// and script errors as they are (callers only test err != nil).
//
// # How a networked backend implements them
//
//   - Revocations: [Revocations.Revoked] runs on every request with a
//     session, so it must be answered from a local view, without a round
//     trip and without allocating. Revoke writes through (an atomic
//     add-if-absent of the id with an expiry at until, so that of two
//     instances refreshing the same token only one is first, then an
//     event on a stream), and every instance feeds its local view from
//     that stream, catching up from its last position after a reconnect.
//     A view that has fallen behind by more than its bound answers
//     Revoked with an error rather than with a possibly stale false, and
//     a backend that lost its data refuses the sessions issued before the
//     loss. The memory implementation can serve as that local view;
//     store/redisstore is the Redis one.
//   - OneTime: one SET NX with an expiry per Use; the first caller
//     cluster-wide gets fresh = true.
//   - Budgets: one atomic script per call over all of its limits (GCRA:
//     read, compare and push the theoretical arrival time in the same
//     round trip, never GET then SET); RateLimits.Take the same, all or
//     none of its limits in one script.
//   - Certificates: Get/Put/Delete of blobs, as certmagic's Storage. Once
//     several instances share one, issuance also needs a lock ([Locker]),
//     so that one instance orders a name while the others wait and load
//     the result: SET NX with an expiry and a random token, refreshed
//     while held by a compare-token script, released by compare-and-delete.
package store

import (
	"context"
	"time"
)

// Set is the stores one gatehouse process uses. A nil member means the
// in-memory implementation of store/memstore, this process's own; with a
// cluster block, the members come from store/redisstore.
type Set struct {
	Revocations  Revocations  // revoked sessions (logout, refresh)
	OneTime      OneTime      // used OAuth states
	Budgets      Budgets      // failed-login budgets
	RateLimits   RateLimits   // request rate limits (the rateLimit stage)
	Certificates Certificates // ACME account, certificates, challenge tokens
	Locker       Locker       // one order per certificate name at a time
}

// RevocationFeed is implemented by a Revocations whose ids can also be
// revoked elsewhere (by another instance sharing the backend). Subscribe
// registers fn, called with each such id once this instance learns of it,
// so that what a session holds open (a WebSocket tunnel) ends on every
// instance, not only where the logout happened.
type RevocationFeed interface {
	Subscribe(fn func(id string))
}

// Revocations holds revoked session ids until the tokens carrying them
// could no longer be used anyway.
type Revocations interface {
	// Revoke records id as revoked until until. first is true for the one
	// call that revoked it, false when it was already revoked: the
	// single-use guarantee of refresh (of two concurrent refreshes of one
	// token, one wins). On error the revocation may or may not be
	// recorded; the caller treats it as failed. An implementation that
	// keeps a local view records id there even when the shared write
	// fails, so that at least this instance refuses the token.
	Revoke(ctx context.Context, id string, until time.Time) (first bool, err error)
	// Revoked reports whether id, of a session issued at issued (the
	// token's iat), is revoked. It is a local read: it never waits on a
	// network and must not allocate. An error means the local view cannot
	// be trusted (a networked backend that lost its stream for longer than
	// its bound); the caller then refuses the session.
	//
	// issued matters to a backend that can lose its state: once it knows
	// it did (a Redis that came back empty), it answers true for every
	// session issued before that point, whose revocations may be lost. The
	// memory implementation ignores it: it never notices a loss (its
	// revocations end with the process, as they always have for one
	// instance). A zero issued is before every such point.
	Revoked(id string, issued time.Time) (bool, error)
	// Len is the number of revocations held locally, for metrics.
	Len() int
}

// OneTime remembers values that may be used only once, for as long as
// they could be presented.
type OneTime interface {
	// Use marks key as used for ttl and reports whether it was fresh, that
	// is not used before within its ttl. owner is whom the use is counted
	// against: the memory implementation bounds the keys it holds per
	// owner, so that one client cannot push out the others' (a networked
	// backend may ignore it). On error the caller refuses the value.
	Use(ctx context.Context, key, owner string, ttl time.Duration) (fresh bool, err error)
}

// Limit names one rate budget (GCRA): Burst units, of which one comes back
// every Every.
type Limit struct {
	// Key names the budget; callers prefix it with what it counts.
	Key   string
	Every time.Duration
	Burst int
}

// Budgets keeps rate budgets that refill with time, so that an entry
// expires once its budget is full again.
type Budgets interface {
	// Spent reports whether any of limits has no unit left, without
	// spending one. Limits are looked at in order, and the first spent one
	// answers. On error the caller refuses what the budget guards.
	Spent(ctx context.Context, limits ...Limit) (bool, error)
	// Spend takes one unit from each of limits that has one left (a spent
	// budget stays as it is: waiting refills it, trying does not delay it
	// further). On error the units may or may not have been taken.
	Spend(ctx context.Context, limits ...Limit) error
}

// RateLimits takes one unit from several rate budgets at once, all or
// none: the request rate limits of the proxy's rateLimit stage.
// memstore.Budgets and redisstore.Budgets implement it beside Budgets, on
// the same GCRA (a budget's Key is the same key space, so callers prefix
// their keys, "rl:" for rate limits).
type RateLimits interface {
	// Take takes one unit from each of limits if every one has a unit
	// left, and none otherwise (a refused request spends nothing). It is
	// one atomic step: concurrent Takes on the same keys never take more
	// units than the budgets hold. On error the units may or may not have
	// been taken.
	Take(ctx context.Context, limits []Limit) (Taken, error)
}

// Taken is the answer of RateLimits.Take.
type Taken struct {
	OK bool // the units were taken
	// Index is the limit the answer is about: refused, the first spent
	// one; taken, the one with the fewest units left (the first of
	// equals).
	Index int
	// Remaining is the units left in limits[Index] after the call (0
	// when refused).
	Remaining int
	// Retry is, refused, how long until limits[Index] has a unit again;
	// 0 when taken.
	Retry time.Duration
	// Full is how long until limits[Index] is full again.
	Full time.Duration
}

// Certificates is the certificate cache of ACME: the account key,
// certificates with their keys, and challenge tokens, as blobs by name.
// Its method set is golang.org/x/crypto/acme/autocert's Cache, so
// autocert.DirCache is one and any Certificates can be handed to autocert.
// Get answers a missing key with autocert.ErrCacheMiss.
type Certificates interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Put(ctx context.Context, key string, data []byte) error
	Delete(ctx context.Context, key string) error
}

// Locker hands out named locks, held by one holder at a time: across
// instances for a networked backend, within the process for the memory
// one. acme takes one around ordering or renewing a certificate, so that
// one instance orders a name while the others wait and then load it.
type Locker interface {
	// Lock waits until name is free, then takes it. It returns ctx's error
	// when ctx ends first (a deadline bounds the wait), or the backend's.
	// unlock releases the lock (idempotent; it must be called). lost is
	// closed if the lock is lost while held (a networked lock whose expiry
	// could not be refreshed in time, or whose key was changed behind it):
	// from then on another holder may take it, and the holder should stop
	// or at least know it is no longer alone. A memory lock is never lost.
	Lock(ctx context.Context, name string) (unlock func(), lost <-chan struct{}, err error)
}
