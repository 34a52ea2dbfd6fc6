package settings

import (
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Cluster is how the instances of a cluster reach the Redis (or Valkey)
// they share: the cluster block. It is read when the process starts; a
// reload that changes it takes effect only after a restart (gatehouse
// reports "cluster" in needs_restart). Password and SentinelPassword are
// secrets: they are never printed (String leaves them out).
type Cluster struct {
	// Addr is the server's host:port. It is "" with Sentinel, where the
	// master's address comes from the sentinels.
	Addr string
	// TLS is true for a rediss:// URL: TLS 1.2 or later to the server
	// (and to the sentinels), verified against RootCAs.
	TLS bool
	// RootCAs verifies the server's certificate; nil = the system roots.
	// CAFile is the absolute path it came from ("" = none).
	RootCAs *x509.CertPool
	CAFile  string
	// DB is the database number (the URL's path), 0 by default.
	DB int
	// Username is the ACL user ("" = the default user); Password its
	// password ("" = no AUTH).
	Username string
	Password string
	// KeyPrefix starts every key gatehouse writes; it ends with ":".
	KeyPrefix string

	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration

	// SentinelMaster names the master the sentinels at SentinelAddrs
	// (host:port each) watch; both empty without Sentinel.
	SentinelMaster   string
	SentinelAddrs    []string
	SentinelPassword string // of the sentinels themselves; "" = none

	// LimitsOnError is what failed-login limits do when Redis cannot be
	// asked: LimitsClosed (refuse the login, 503) or LimitsOpen (let it go
	// on to the password check, logged).
	LimitsOnError string
	// RateLimitsOnError is what request rate limits (rate_limit blocks)
	// do when Redis cannot be asked: LimitsOpen (the default: the request
	// goes on, logged) or LimitsClosed (503 store_unavailable).
	RateLimitsOnError string
	// EncryptionKey, when set, encrypts the certificates, their keys and
	// the ACME account key at rest in Redis (AES-256-GCM under a key
	// derived from it). A secret: never printed.
	EncryptionKey string

	// Origin is where the block is declared ("cluster.hcl:3,1").
	Origin string
}

// String describes c without its secrets (Password and SentinelPassword
// appear only as "set"), so that printing the settings by mistake shows
// no password.
func (c Cluster) String() string {
	set := func(s string) string {
		if s == "" {
			return "none"
		}
		return "set"
	}
	return fmt.Sprintf("cluster{server=%s tls=%t ca_file=%q db=%d username=%q password=%s key_prefix=%q dial_timeout=%s read_timeout=%s write_timeout=%s sentinel_password=%s limits_on_error=%s rate_limits_on_error=%s encryption_key=%s origin=%s}",
		c.Server(), c.TLS, c.CAFile, c.DB, c.Username, set(c.Password), c.KeyPrefix, c.DialTimeout, c.ReadTimeout, c.WriteTimeout, set(c.SentinelPassword), c.LimitsOnError, c.RateLimitsOnError, set(c.EncryptionKey), c.Origin)
}

// Sentinel reports whether c reaches its master through Sentinel.
func (c Cluster) Sentinel() bool { return c.SentinelMaster != "" }

// Server describes where c connects, for logs and messages, without any
// secret: "127.0.0.1:6390" or "sentinel master gh via 127.0.0.1:26401,…".
func (c Cluster) Server() string {
	if c.Sentinel() {
		return "sentinel master " + c.SentinelMaster + " via " + strings.Join(c.SentinelAddrs, ",")
	}
	return c.Addr
}

// Clone returns a deep copy of c (RootCAs is shared: a CertPool is not
// modified after it is built). Clone of nil is nil.
func (c *Cluster) Clone() *Cluster {
	if c == nil {
		return nil
	}
	o := *c
	o.SentinelAddrs = slices.Clone(c.SentinelAddrs)
	return &o
}

// Equal reports whether c and o connect to the same servers in the same
// way, ignoring Origin. Two nil settings are equal.
func (c *Cluster) Equal(o *Cluster) bool {
	if c == nil || o == nil {
		return c == o
	}
	return c.Addr == o.Addr && c.TLS == o.TLS && c.CAFile == o.CAFile && poolsEqual(c.RootCAs, o.RootCAs) &&
		c.DB == o.DB && c.Username == o.Username && c.Password == o.Password && c.KeyPrefix == o.KeyPrefix &&
		c.DialTimeout == o.DialTimeout && c.ReadTimeout == o.ReadTimeout && c.WriteTimeout == o.WriteTimeout &&
		c.SentinelMaster == o.SentinelMaster && slices.Equal(c.SentinelAddrs, o.SentinelAddrs) &&
		c.SentinelPassword == o.SentinelPassword && c.LimitsOnError == o.LimitsOnError && c.RateLimitsOnError == o.RateLimitsOnError && c.EncryptionKey == o.EncryptionKey
}

// What failed-login limits and rate limits do when their store fails
// (Cluster.LimitsOnError, Cluster.RateLimitsOnError).
const (
	LimitsClosed = "closed"
	LimitsOpen   = "open"
)
