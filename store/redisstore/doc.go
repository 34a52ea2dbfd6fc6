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
// server, answers a lone EVALSHA in a fraction of go-redis's time (its
// figures are in docs/benchmarks.md, "Redis client"), but both stay far
// below the cost of a password hash or an IdP round trip on the same
// requests. go-redis was chosen for its Sentinel support through the same
// client type, its maturity and its plain API, which the other stores of
// this package share.
//
// Valkey speaks the same protocol; the tests run against Redis 7 (Valkey
// is not packaged for the Debian release the tests use).
package redisstore
