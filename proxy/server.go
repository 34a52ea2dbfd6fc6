// Package proxy is gatehouse's HTTP pipeline (pipeline.go). Front stages
// run on every request: servedName (TLS listener only), canonicalize,
// cors. With a sessions block, a request under /auth/ then goes to the
// login API (proxy/authapi). Every other request goes through route,
// authenticate (proxy/authn), authorize (policy.Decide), upstreamHeaders,
// methodOverride, filterRecords, upgrade, limitBody and forward, which
// sends it through proxy/upstream and filters the response. The state of
// one request is a transaction, grouped by the stage that writes it; one
// error writer (errors.go) answers every refusal, and one function
// (transaction.accessRecord) builds the access record.
//
// A Server serves from an immutable policy.Snapshot that a reload swaps
// atomically; a request uses the snapshot it started with from its first
// stage to its last.
package proxy

import (
	"cmp"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/metrics"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy/authapi"
	"github.com/gatehouse-dev/gatehouse/proxy/session"
	"github.com/gatehouse-dev/gatehouse/proxy/upstream"
	"github.com/gatehouse-dev/gatehouse/settings"
	"github.com/gatehouse-dev/gatehouse/store"
)

// Options configure a Server.
type Options struct {
	// Logger receives component logs (errors, reloads). Required.
	Logger *slog.Logger
	// AccessLog receives one JSON line per request; nil discards them.
	AccessLog io.Writer
	// AccessLogText writes the access lines as slog.TextHandler does
	// (key=value, for --log-format text) instead of JSON.
	AccessLogText bool
	// Transport, if set, carries every upstream request instead of the
	// pooled per-upstream transports (for tests and benchmarks).
	Transport http.RoundTripper
	// UpstreamRootCAs verifies https upstreams; nil means the system roots.
	UpstreamRootCAs *x509.CertPool
	// ServedHost, when set, reports whether a host name (lower case, no
	// port, no trailing dot) is served over TLS. Every request that
	// arrived over TLS must then name such a host, and the one its
	// connection's SNI named, or get 421 (see servedName). Nil: no check
	// (plain HTTP, or tests).
	ServedHost func(host string) bool
	// Stores are the shared stores of a cluster: revocations for the
	// session manager, one-time OAuth states and failed-login budgets for
	// the login API. A nil member (all of them without a cluster block)
	// means in memory. Certificates is not used here (the ACME manager
	// takes it).
	Stores store.Set
	// LimitsOnError is what failed-login limits do when Stores.Budgets
	// fails: authapi.LimitsClosed (the default) or authapi.LimitsOpen.
	LimitsOnError string
	// RateLimitsOnError is what the rateLimit stage does when
	// Stores.RateLimits fails: settings.LimitsOpen (the default, also
	// for "": the request goes on, a warning is logged at most once a
	// minute) or settings.LimitsClosed (503 store_unavailable).
	RateLimitsOnError string
	// RateLimitHooks let a metrics package count rate-limit refusals and
	// store errors (see RateLimitHooks).
	RateLimitHooks RateLimitHooks
	// InstanceID identifies this process among the instances of a
	// cluster (random at start); GET /admin/config reports it.
	InstanceID string
	// ClusterState, when set, reports the health of the cluster's Redis
	// (redisstore.Client.State) for GET /admin/config; nil without a
	// cluster block.
	ClusterState func() (up bool, since time.Time, lastErr string)
	// Metrics receives the per-request series (from the access record),
	// the configuration in service and the session cache's counters, and
	// serves GET /metrics on the admin listener; nil records nothing (and
	// /metrics is a 404).
	Metrics *metrics.Registry
}

// Server serves the public listener from the current snapshot. State that
// must outlive reloads (upstream connection pools, buffers) lives here.
type Server struct {
	log      *slog.Logger
	access   *accessLog
	abandons *abandonedLog     // bounds the access lines of abandoned requests
	rt       http.RoundTripper // Options.Transport
	front    []step            // before the /auth/ mount point
	stages   []step            // the pipeline proper
	gen      atomic.Pointer[generation]
	bufs     bufferPool
	held     arrayPool[[firstChunk]byte] // filterOut's
	ids      idSource
	upstream *upstream.Pool // per-upstream transports, kept across reloads
	sessions *session.Manager
	authn    authenticators                   // the authenticate stage's
	auth     *authapi.Handler                 // the /auth/ API, mounted ahead of the pipeline
	rates    *rateLimiter                     // the rateLimit stage's budgets
	tunnels  tunnels                          // open WebSocket tunnels (tunnel.go)
	served   func(string) bool                // Options.ServedHost
	instance string                           // Options.InstanceID
	cluster  func() (bool, time.Time, string) // Options.ClusterState
	draining atomic.Bool                      // Drain was called: /readyz answers 503
	metrics  *metrics.Registry                // Options.Metrics; nil records nothing

	mu     sync.Mutex
	closed bool
}

// generation is a snapshot plus the forwarding state built for it.
type generation struct {
	snap     *policy.Snapshot
	rt       *settings.Runtime   // snap's runtime settings (login providers); may be nil
	backends []*backend          // by Upstream.Index
	keys     *policy.SessionKeys // snap.SessionKeys(): nil without a sessions block
	tkeys    []upstream.Key      // the pooled transports its backends use
	inflight atomic.Int64        // requests running on this generation
	retired  atomic.Bool         // a newer generation is in service
	loaded   time.Time
}

// New returns a Server with no snapshot: it answers 503 until Load is called.
func New(opts Options) *Server {
	s := &Server{
		log:      opts.Logger.With("component", "proxy"),
		access:   newAccessLog(cmp.Or[io.Writer](opts.AccessLog, io.Discard), opts.AccessLogText),
		rt:       opts.Transport,
		served:   opts.ServedHost,
		instance: opts.InstanceID,
		cluster:  opts.ClusterState,
		metrics:  opts.Metrics,
		authn:    defaultAuthenticators(),
		upstream: upstream.NewPool(opts.UpstreamRootCAs),
	}
	s.abandons = &abandonedLog{log: s.access}
	s.rates = newRateLimiter(opts.Stores.RateLimits, opts.RateLimitsOnError, opts.RateLimitHooks, s.log)
	s.ids.prefix = randomPrefix()
	s.front, s.stages = pipeline(opts.ServedHost != nil)
	sessions, err := session.NewManager(session.Options{OnRevoke: s.tunnels.revoked, Revocations: opts.Stores.Revocations})
	if err != nil {
		panic(err) // only for a zero cache size, which NewManager never uses
	}
	s.sessions = sessions
	opts.Metrics.NewCounterFunc("gatehouse_session_cache_hits_total", "Session tokens served from the verified-token cache.",
		func() float64 { return float64(sessions.Stats().CacheHits) })
	opts.Metrics.NewCounterFunc("gatehouse_session_cache_misses_total", "Session tokens that had to be verified (not in the cache).",
		func() float64 { return float64(sessions.Stats().CacheMisses) })
	s.auth = authapi.New(authapi.Options{Sessions: sessions, LoginBudgets: opts.Stores.Budgets, OAuthStates: opts.Stores.OneTime,
		LimitsOnError: opts.LimitsOnError, Logger: s.log})
	return s
}

// Load makes snap, with its runtime settings rt (config compiles them
// together; the server reads the login providers' connection settings in
// it), the snapshot for every request that starts from now on. A nil rt
// has no login providers to reach. Requests in flight finish on the
// snapshot they started with; open tunnels (WebSockets) are decided again
// on snap, and those it refuses are closed before Load returns.
func (s *Server) Load(snap *policy.Snapshot, rt *settings.Runtime) {
	g := &generation{snap: snap, rt: rt, keys: snap.SessionKeys(), loaded: time.Now()}
	for _, u := range snap.Upstreams() {
		b := s.newBackend(u)
		g.backends = append(g.backends, b)
		g.tkeys = append(g.tkeys, b.tkeys...)
	}
	if spec := snap.Sessions(); spec != nil {
		s.sessions.Resize(spec.CacheSize)
	}
	old := s.gen.Swap(g)
	s.metrics.ConfigLoaded(snap.Hash(), g.loaded)
	if old == nil {
		return
	}
	if old.keys != nil && (g.keys == nil || old.keys.ID() != g.keys.ID()) {
		// Cached sessions of the old keys can never verify again.
		s.sessions.Clear()
	}
	s.recheckTunnels(g)
	old.retired.Store(true)
	if old.inflight.Load() == 0 {
		s.release(old)
	}
}

// Drain makes GET /readyz answer 503 {"status":"draining"} from now on,
// so that load balancers stop sending new requests, while every request
// is still served as before. It is called on SIGTERM, for the shutdown
// delay before the listeners stop accepting; it cannot be undone.
func (s *Server) Drain() { s.draining.Store(true) }

// InstanceID returns Options.InstanceID.
func (s *Server) InstanceID() string { return s.instance }

// SessionStats returns the session cache and verification counters.
func (s *Server) SessionStats() session.Stats { return s.sessions.Stats() }

// Snapshot returns the snapshot in service, or nil before the first Load.
func (s *Server) Snapshot() *policy.Snapshot {
	if g := s.gen.Load(); g != nil {
		return g.snap
	}
	return nil
}

// ServeHTTP runs the pipeline for one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := s.newTransaction(w, r)
	if g := x.gen; g != nil {
		g.inflight.Add(1)
		defer s.done(g)
	}
	if fc := framingFrom(r.Context()); fc != nil {
		x.conn.fc = fc
		x.conn.reqNum, x.conn.badFraming, x.conn.closeConn = fc.next()
	}
	defer s.finish(x)
	if x.gen == nil {
		s.fail(x, refuse(http.StatusServiceUnavailable, reasonNotReady, nil))
		return
	}
	x.identifyClient()
	if !s.run(x, s.front) {
		return
	}
	if x.gen.keys != nil && strings.HasPrefix(x.facts.path.Escaped, AuthPrefix) {
		s.serveAuth(x)
		return
	}
	s.run(x, s.stages)
}

// newTransaction starts the transaction of a request on the generation in
// service (nil before the first Load), with its start time, a new request
// id and the TCP peer.
func (s *Server) newTransaction(w http.ResponseWriter, r *http.Request) *transaction {
	return &transaction{srv: s, w: w, r: r, gen: s.gen.Load(), start: time.Now(), id: s.ids.next(), facts: facts{peer: peerAddr(r)}}
}

// identifyClient sets whether x's peer is a trusted proxy and, from that
// and X-Forwarded-For, the client's address, by x's snapshot. A trusted
// proxy's X-Request-Id, if well formed (keptRequestID), becomes the
// request's id; anyone else's is replaced by the minted one.
func (x *transaction) identifyClient() {
	trusts := x.snap().TrustsProxy
	x.facts.peerTrusted = x.facts.peer.IsValid() && trusts(x.facts.peer)
	x.facts.client = clientAddr(x.facts.peer, x.facts.peerTrusted, x.r.Header["X-Forwarded-For"], trusts)
	if x.facts.peerTrusted {
		if id, ok := keptRequestID(x.r.Header[headerRequestID]); ok {
			x.id = id
		}
	}
}

// run runs stages on x until one refuses the request (written by fail) or
// answers it. It reports whether the request goes on.
func (s *Server) run(x *transaction, stages []step) bool {
	for _, st := range stages {
		if err := st.serve(x); err != nil {
			s.fail(x, err)
			return false
		}
		if x.res.answered {
			return false
		}
	}
	return true
}

// AuthPrefix is where gatehouse serves its /auth/ API when a sessions
// block is configured. Upstreams never see requests below it.
const AuthPrefix = authapi.Prefix

// serveAuth hands a request under AuthPrefix to the /auth/ API, bound to
// the request's generation, and writes its refusal with the one error
// writer (with the CORS headers of the path).
func (s *Server) serveAuth(x *transaction) {
	q := authapi.Request{W: x.w, R: x.r, Path: x.facts.path.Escaped, Snap: x.snap(), Runtime: x.gen.rt, Keys: x.gen.keys, Client: x.facts.client, ID: x.id, Start: x.start}
	err := s.auth.Serve(&q)
	x.who.ident, x.decision.Reason = q.Ident, q.Reason
	if err != nil {
		s.fail(x, err)
		return
	}
	x.res.status = q.Status
}

// done ends a request's use of its generation; the last request of a
// retired generation releases what it alone used.
func (s *Server) done(g *generation) {
	if g.inflight.Add(-1) == 0 && g.retired.Load() {
		s.release(g)
	}
}

// release closes the connection pools of a retired generation that the
// generation in service does not use (removed or changed upstreams). It
// may run more than once for a generation; closing is idempotent.
func (s *Server) release(old *generation) {
	s.upstream.Retire(old.tkeys, s.gen.Load().tkeys)
}

// fail records a refusal and writes it with the one error writer.
func (s *Server) fail(x *transaction, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = refuse(http.StatusInternalServerError, reasonInternal, err)
	}
	if x.conn.closeConn {
		e.Close = true
	}
	x.res.status, x.res.reason = e.Status, e.Reason
	if e.Err != nil {
		x.res.errText = e.Err.Error()
	}
	production := x.gen == nil || x.snap().Production()
	writeError(x.w, production, x.id, e, &x.facts.cors)
}

// WriteError answers a request that a handler outside the pipeline
// refuses (the plain-HTTP listener in TLS mode: ACME challenges,
// redirects) as the pipeline would: gatehouse's JSON error body for status
// (a generic message and a request id; the reason and err's text only
// when the snapshot in service is not production), and an access record
// with the reason. The response closes the connection: such listeners
// serve no API to keep a connection open for.
func (s *Server) WriteError(w http.ResponseWriter, r *http.Request, status int, reason string, err error) {
	x := s.newTransaction(w, r)
	x.facts.client = x.facts.peer
	s.fail(x, &Error{Status: status, Reason: reason, Err: err, Close: true})
	s.logAccess(x)
}

// finish writes the access record. A panic (http.ErrAbortHandler after the
// response started) is logged and passed on so the connection is cut.
func (s *Server) finish(x *transaction) {
	v := recover()
	if v != nil {
		x.res.reason = "aborted"
		if x.res.status == 0 {
			x.res.status = http.StatusBadGateway
		}
	}
	s.logAccess(x)
	if v != nil {
		panic(v)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func (s *Server) newBackend(u *policy.Upstream) *backend {
	target := u.URL()
	b := &backend{
		target:   target,
		basePath: strings.TrimSuffix(target.EscapedPath(), "/"),
	}
	b.transport, b.bodyTransport = s.rt, s.rt
	if s.rt == nil {
		k := upstream.Key{Scheme: target.Scheme, Host: target.Host, Timeout: u.Timeout(), Watched: true}
		b.transport = s.upstream.Transport(k)
		b.tkeys = append(b.tkeys, k)
		k.Watched = false
		b.bodyTransport = s.upstream.Transport(k)
		b.tkeys = append(b.tkeys, k)
	}
	b.errorLog = slog.NewLogLogger(s.log.With("upstream", u.Name()).Handler(), slog.LevelWarn)
	return b
}

// Close closes open tunnels and releases idle upstream connections. It is
// safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.tunnels.closeAll()
	s.abandons.close()
	s.sessions.Close()
	s.upstream.Close()
	return nil
}

// arrayPool pools pointers to arrays of type A, so that neither get nor
// put allocates a slice header.
type arrayPool[A any] struct{ p sync.Pool }

func (a *arrayPool[A]) get() *A {
	if v, ok := a.p.Get().(*A); ok {
		return v
	}
	return new(A)
}

func (a *arrayPool[A]) put(v *A) { a.p.Put(v) }

// bufferPool is ReverseProxy's copy-buffer pool.
type bufferPool struct {
	arrayPool[[copyBufferSize]byte]
}

const copyBufferSize = 32 * 1024

func (b *bufferPool) Get() []byte { return b.get()[:] }

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) >= copyBufferSize {
		b.put((*[copyBufferSize]byte)(buf[:copyBufferSize]))
	}
}

// idSource makes request ids: a random per-process prefix and a counter,
// unique without a syscall per request.
type idSource struct {
	prefix string
	n      atomic.Uint64
}

func randomPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *idSource) next() string {
	buf := make([]byte, 0, 32)
	buf = append(buf, s.prefix...)
	buf = append(buf, '-')
	buf = strconv.AppendUint(buf, s.n.Add(1), 36)
	return string(buf)
}

// Interface guards.
var (
	_ http.Handler        = (*Server)(nil)
	_ httputil.BufferPool = (*bufferPool)(nil)
)
