package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/store"
)

// MaxOneTimeKey bounds the keys OneTime.Use looks at: a longer key is
// answered "not fresh" without a round trip. OAuth states are 43 bytes
// (the oauth package refuses states over 64 before asking the store).
const MaxOneTimeKey = 256

// OneTime is store.OneTime on Redis: one SET NX PX per Use, so the first
// caller cluster-wide gets fresh = true and the value is forgotten by
// Redis when its ttl ends. The key is prefix + "once:" + base64url of the
// SHA-256 of the value: values (OAuth states) are whatever a callback
// brought, so they are neither stored nor allowed to choose the length of
// a Redis key. The owner is ignored: Redis holds no per-owner table that
// one client could flood (its memory is bounded by maxmemory and the
// ttl; see docs/cluster-oauth-limits.md). It is safe for concurrent use.
type OneTime struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ store.OneTime = (*OneTime)(nil)

// NewOneTime returns a OneTime whose keys start with prefix.
func NewOneTime(rdb redis.UniversalClient, prefix string) *OneTime {
	return &OneTime{rdb: rdb, prefix: prefix}
}

// Use marks key as used for ttl (rounded up to a millisecond) and reports
// whether this call was the first to do so within the ttl, on any
// instance. An empty key or one longer than MaxOneTimeKey is never fresh.
// An error (connection, timeout, a refused write) means the use may or
// may not have been recorded; the caller refuses the value.
func (o *OneTime) Use(ctx context.Context, key, _ string, ttl time.Duration) (fresh bool, err error) {
	if key == "" || len(key) > MaxOneTimeKey {
		return false, nil
	}
	ttl = max(ttl, time.Millisecond)
	if r := ttl % time.Millisecond; r != 0 {
		ttl += time.Millisecond - r // go-redis would round it down
	}
	return o.rdb.SetNX(ctx, o.key(key), "1", ttl).Result()
}

// key is the Redis key of a one-time value.
func (o *OneTime) key(v string) string {
	sum := sha256.Sum256([]byte(v))
	return o.prefix + "once:" + base64.RawURLEncoding.EncodeToString(sum[:])
}
