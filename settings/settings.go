// Package settings holds what a configuration says about running gatehouse
// rather than about requests: the listeners (addresses, timeouts, the
// header limit, TLS) and how to reach the login providers (LDAP
// directories, OAuth clients, with their secrets) and the Redis shared by
// the instances of a cluster. The config package
// compiles them from the same files as the policy snapshot and returns them
// beside it (a Runtime); the snapshot (package policy) keeps only what
// requests and decisions need. A server puts a snapshot and its Runtime in
// service together. The package is pure: plain values, no I/O.
package settings

import "time"

// Runtime is the runtime settings of one configuration. It is not
// modified after config builds it. A new kind of runtime setting (another
// block about the process, not about requests) is a field here.
type Runtime struct {
	Listeners Listeners
	// LDAP and OAuth are the login providers' connection settings, by
	// block name: one for each provider of the snapshot.
	LDAP  map[string]LDAP
	OAuth map[string]OAuth
	// Cluster is how this instance reaches the Redis it shares with the
	// other instances; nil without a cluster block (everything stays in
	// this process's memory).
	Cluster *Cluster
	// AdminTokenSHA256 is the SHA-256 of the static admin token (server
	// block, admin_token_sha256): "Authorization: Bearer <token>" on the
	// admin listener is then let through like an admin session. Nil: no
	// token, admin sessions only. It applies on reload.
	AdminTokenSHA256 *[32]byte
}

// Listeners configures the listeners and their http.Servers. They are read
// when the process starts; a reload that changes them takes effect only
// after a restart (gatehouse reports which changed).
type Listeners struct {
	Listen         string // public listener, default ":8080"
	AdminListen    string // health and admin, default "127.0.0.1:9901"
	MaxHeaderBytes int    // request headers above this get 431

	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
	// ShutdownDelay is how long /readyz answers 503 ("draining") after
	// SIGTERM while every listener keeps serving, before the shutdown
	// (bounded by ShutdownTimeout) starts; 0: at once.
	ShutdownDelay time.Duration

	// TLSListen is the HTTPS listener when TLS is set; Listen then only
	// answers ACME HTTP-01 challenges and redirects to HTTPS.
	TLSListen string
	// TLS configures HTTPS; nil = plain HTTP on Listen only. It must not
	// be modified.
	TLS *TLS
}
