package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/store"
)

// The two scripts of Budgets implement memstore.Budgets' GCRA on Redis.
// A budget is one string key holding its theoretical arrival time (TAT):
// the time, in microseconds since the Unix epoch on the Redis server's
// clock, at which it would be full again. A budget of burst b and interval
// e is spent when its TAT is more than (b-1)*e ahead of now; a use pushes
// it e further, from now if it lies in the past. A missing key is a full
// budget, and every write sets the key to expire when the budget is full
// again, so that Redis forgets budgets as memstore's table would.
//
// KEYS are the budgets' keys; ARGV[1] is "" (use the server's TIME) or a
// time in microseconds (tests only), then ARGV[2i], ARGV[2i+1] are the
// interval in microseconds and the burst of KEYS[i]. Numbers are Lua
// doubles: microseconds since 1970 stay below 2^53 (exact) until the year
// 2255. TAT is written with %d, not tostring, which would round it to 14
// digits.
const budgetsPrelude = `
if redis.replicate_commands then redis.replicate_commands() end
local now
if ARGV[1] == '' then
	local t = redis.call('TIME')
	now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
	now = tonumber(ARGV[1])
end
`

// spentScript returns the 1-based index of the first spent budget, or 0.
// It writes nothing.
var spentScript = budgetsPrelude + `
for i, k in ipairs(KEYS) do
	local tat = tonumber(redis.call('GET', k))
	if tat and tat - now > (tonumber(ARGV[2*i+1]) - 1) * tonumber(ARGV[2*i]) then
		return i
	end
end
return 0
`

// spendScript takes one unit from each budget that has one; a spent one
// stays as it is. It returns the number of budgets spent from.
var spendScript = budgetsPrelude + `
local n = 0
for i, k in ipairs(KEYS) do
	local every, burst = tonumber(ARGV[2*i]), tonumber(ARGV[2*i+1])
	local tat = tonumber(redis.call('GET', k)) or 0
	if tat - now <= (burst - 1) * every then
		tat = math.max(tat, now) + every
		redis.call('SET', k, string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000))
		n = n + 1
	end
end
return n
`

// takeScript takes one unit from every budget if none is spent, else none
// (store.RateLimits.Take). It returns {1, i, remaining, full} when taken,
// i the budget with the fewest units left, full the microseconds until it
// is full again; {0, i, retry, full} when refused, i the first spent
// budget and retry the microseconds until it has a unit again.
var takeScript = budgetsPrelude + `
local tats = {}
for i, k in ipairs(KEYS) do
	local every, burst = tonumber(ARGV[2*i]), tonumber(ARGV[2*i+1])
	local tat = math.max(tonumber(redis.call('GET', k)) or 0, now)
	if tat - now > (burst - 1) * every then
		return {0, i, tat - (burst - 1) * every - now, tat - now}
	end
	tats[i] = tat
end
local best, left, full = 0, 0, 0
for i, k in ipairs(KEYS) do
	local every, burst = tonumber(ARGV[2*i]), tonumber(ARGV[2*i+1])
	local tat = tats[i] + every
	redis.call('SET', k, string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000))
	local n = burst - math.ceil((tat - now) / every)
	if best == 0 or n < left then
		best, left, full = i, n, tat - now
	end
end
return {1, best, left, full}
`

// Budgets is store.Budgets and store.RateLimits on Redis: each Spent, Spend and Take is one
// Lua script over all of its limits (EVALSHA, falling back to EVAL when
// the server does not have the script, as after a restart), so a check
// and an update are one atomic step on the server, never a GET then a
// SET, and instances share every budget. Time is the Redis server's
// (TIME inside the script): instances whose clocks disagree still agree
// on every budget. A budget's key is prefix + "budget:" + Limit.Key and
// expires when the budget is full again. Every is counted in whole
// microseconds (rounded up, at least one).
//
// Unlike memstore.Budgets, whose tables are per rate, one Key names one
// budget whatever its Every and Burst: callers give each kind of budget
// its own key prefix (authapi's "login-addr:" and "login-user:"), so this
// only matters if a rate changes, and then the budget carries over.
// It needs one Redis server (standalone or behind Sentinel); Redis Cluster
// is not supported (keys of one call would have to share a hash slot). It
// is safe for concurrent use.
type Budgets struct {
	rdb    redis.UniversalClient
	prefix string
	spent  *redis.Script
	spend  *redis.Script
	take   *redis.Script
	// now, when set (tests), replaces the server's TIME.
	now func() time.Time
}

var (
	_ store.Budgets    = (*Budgets)(nil)
	_ store.RateLimits = (*Budgets)(nil)
)

// NewBudgets returns Budgets whose keys start with prefix.
func NewBudgets(rdb redis.UniversalClient, prefix string) *Budgets {
	return &Budgets{rdb: rdb, prefix: prefix, spent: redis.NewScript(spentScript), spend: redis.NewScript(spendScript), take: redis.NewScript(takeScript)}
}

// Spent reports whether any of limits has no unit left, looking at them in
// order, in one round trip. It writes nothing. An error is Redis's
// (connection, timeout, script); the caller refuses what the budget
// guards.
func (b *Budgets) Spent(ctx context.Context, limits ...store.Limit) (bool, error) {
	if len(limits) == 0 {
		return false, nil
	}
	keys, args := b.call(limits)
	i, err := b.spent.Run(ctx, b.rdb, keys, args...).Int64()
	if err != nil {
		return false, err
	}
	return i > 0, nil
}

// Spend takes one unit from each of limits that has one left, in one
// round trip. On error the units may or may not have been taken.
func (b *Budgets) Spend(ctx context.Context, limits ...store.Limit) error {
	if len(limits) == 0 {
		return nil
	}
	keys, args := b.call(limits)
	return b.spend.Run(ctx, b.rdb, keys, args...).Err()
}

// Take takes one unit from each of limits if none is spent, else none
// (store.RateLimits), in one round trip and one atomic script. An error
// is Redis's; the units may or may not have been taken.
func (b *Budgets) Take(ctx context.Context, limits []store.Limit) (store.Taken, error) {
	if len(limits) == 0 {
		return store.Taken{OK: true}, nil
	}
	keys, args := b.call(limits)
	v, err := b.take.Run(ctx, b.rdb, keys, args...).Int64Slice()
	if err != nil {
		return store.Taken{}, err
	}
	if len(v) != 4 || v[1] < 1 || int(v[1]) > len(limits) {
		return store.Taken{}, fmt.Errorf("redisstore: take script answered %v", v)
	}
	t := store.Taken{OK: v[0] == 1, Index: int(v[1]) - 1, Full: time.Duration(v[3]) * time.Microsecond}
	if t.OK {
		t.Remaining = int(max(0, v[2]))
	} else {
		t.Retry = time.Duration(v[2]) * time.Microsecond
	}
	return t, nil
}

// call returns the keys and arguments of a script over limits.
func (b *Budgets) call(limits []store.Limit) ([]string, []any) {
	keys := make([]string, len(limits))
	args := make([]any, 1, 1+2*len(limits))
	args[0] = ""
	if b.now != nil {
		args[0] = strconv.FormatInt(b.now().UnixMicro(), 10)
	}
	for i, l := range limits {
		keys[i] = b.prefix + "budget:" + l.Key
		every := max(1, (l.Every+time.Microsecond-1)/time.Microsecond)
		args = append(args, int64(every), l.Burst)
	}
	return keys, args
}
