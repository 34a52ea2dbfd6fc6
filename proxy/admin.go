package proxy

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/gatehouse-dev/gatehouse/proxy/authn"
	"github.com/gatehouse-dev/gatehouse/proxy/session"
	"github.com/gatehouse-dev/gatehouse/reload"
	"github.com/gatehouse-dev/gatehouse/store"
)

// AdminOptions configure the admin handler.
type AdminOptions struct {
	// Reload serves POST /admin/reload and the reload outcomes of GET
	// /admin/config; nil: POST /admin/reload answers 501 and GET
	// /admin/config reports no reloads.
	Reload *reload.Reloader
	// Pprof serves net/http/pprof. Off by default.
	Pprof bool
	// Instances serves GET /admin/instances: the live instances of the
	// cluster (from their heartbeats), or this one alone without a
	// cluster block. An error (Redis unreachable) is reported in the
	// answer beside Self. Nil: GET /admin/instances answers 501.
	Instances func(ctx context.Context) ([]store.InstanceInfo, error)
	// Self describes this instance; GET /admin/instances lists it when
	// Instances fails, or does not list it yet. Nil: only the id.
	Self func() store.InstanceInfo
}

// AdminHandler serves the admin listener: /healthz (the process is up),
// /readyz (a snapshot is loaded; 503 before; with a cluster block it also
// reports the Redis health, without changing the status; 503 "draining"
// after Drain), and, with an admin session or the static admin token
// (settings.Runtime.AdminTokenSHA256), GET /admin/config (hash, load time, reload outcomes; no
// config values), GET /admin/instances (the cluster's live instances and
// whether they serve the same configuration), POST /admin/reload and POST
// /admin/explain (what the live snapshot does with a request, and why:
// ExplainQuery in, policy.Explanation out, as `gatehouse explain --json`); with
// Options.Metrics, GET /metrics (Prometheus text format, no session
// needed). With opts.Pprof it also serves /debug/pprof/.
// Nothing here is reachable on the public listener, which only ever runs
// the pipeline.
func (s *Server) AdminHandler(opts AdminOptions) http.Handler {
	a := &admin{srv: s, reload: opts.Reload, instances: opts.Instances, self: opts.Self}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.metrics != nil {
		// Like every exporter, without a session: the admin listener
		// is loopback unless the operator says otherwise.
		mux.Handle("GET /metrics", s.metrics.Handler())
	}
	mux.HandleFunc("GET /admin/config", s.requireAdmin(a.config))
	mux.HandleFunc("POST /admin/reload", s.requireAdmin(a.reloadNow))
	mux.HandleFunc("GET /admin/instances", s.requireAdmin(a.listInstances))
	mux.HandleFunc("POST /admin/explain", s.requireAdmin(a.explain))
	if opts.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// readyzBody is the body of GET /readyz once a snapshot is loaded.
type readyzBody struct {
	Status     string         `json:"status"`
	ConfigHash string         `json:"config_hash"`
	LoadedAt   string         `json:"loaded_at"`
	Cluster    *clusterStatus `json:"cluster,omitempty"`
}

// readyz answers 503 "draining" once Drain was called (shutdown), else 200
// once a snapshot is loaded, whether or not the
// cluster's Redis answers: API-key routes need no Redis, session routes
// answer from the local view for a bounded time and then 503 on their
// own, and a load balancer that took every instance out of service at
// once when the shared Redis failed would turn a partial outage into a
// full one. The body reports the Redis health (cluster.up, since) for
// monitoring.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	g := s.gen.Load()
	if g == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "not_ready"})
		return
	}
	body := readyzBody{Status: "ready", ConfigHash: g.snap.Hash(), LoadedAt: g.loaded.UTC().Format(time.RFC3339)}
	if s.cluster != nil {
		up, since, lastErr := s.cluster()
		body.Cluster = &clusterStatus{Up: up, Since: since.UTC(), LastError: lastErr}
	}
	if s.draining.Load() {
		body.Status = "draining"
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(body)
}

// Loaded returns the hash of the snapshot in service and when it was put
// in service; zero values before the first Load.
func (s *Server) Loaded() (hash string, at time.Time) {
	if g := s.gen.Load(); g != nil {
		return g.snap.Hash(), g.loaded
	}
	return "", time.Time{}
}

// admin serves the endpoints that report on and drive reloads.
type admin struct {
	srv       *Server
	reload    *reload.Reloader // nil: no reloads
	instances func(context.Context) ([]store.InstanceInfo, error)
	self      func() store.InstanceInfo
}

// instancesStatus is the body of GET /admin/instances.
type instancesStatus struct {
	Self      string               `json:"self"`
	Instances []store.InstanceInfo `json:"instances"`
	// Converged: every listed instance serves the same configuration
	// hash (false when the list could not be read).
	Converged bool `json:"converged"`
	// Hashes counts the instances per configuration hash.
	Hashes map[string]int `json:"config_hashes"`
	// Error says why the list holds this instance alone (Redis
	// unreachable).
	Error string `json:"error,omitempty"`
}

// listInstancesTimeout bounds GET /admin/instances' reads of the shared
// store.
const listInstancesTimeout = 3 * time.Second

func (a *admin) listInstances(w http.ResponseWriter, r *http.Request) {
	if a.instances == nil {
		writeAdminJSON(w, http.StatusNotImplemented, map[string]string{"status": "instances not available"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), listInstancesTimeout)
	defer cancel()
	list, err := a.instances(ctx)
	st := instancesStatus{Self: a.srv.instance, Instances: list, Hashes: map[string]int{}}
	if err != nil {
		st.Error = err.Error()
		st.Instances = nil
	}
	listed := false
	for _, in := range st.Instances {
		listed = listed || in.ID == st.Self
	}
	if !listed { // Redis down, or this instance's first heartbeat not there yet
		self := store.InstanceInfo{ID: st.Self}
		if a.self != nil {
			self = a.self()
			self.ID = st.Self
		}
		st.Instances = append(st.Instances, self)
	}
	for _, in := range st.Instances {
		st.Hashes[in.ConfigHash]++
	}
	st.Converged = err == nil && len(st.Hashes) == 1
	writeAdminJSON(w, http.StatusOK, st)
}

// configStatus is the body of GET /admin/config. It never contains
// configuration values: secrets (keys, passwords, secret lookups) cannot
// leak through it.
type configStatus struct {
	Instance      string         `json:"instance,omitempty"`
	Cluster       *clusterStatus `json:"cluster,omitempty"`
	ConfigHash    string         `json:"config_hash"`
	LoadedAt      time.Time      `json:"loaded_at"`
	ReloadsOK     uint64         `json:"reloads_ok"`
	ReloadsFailed uint64         `json:"reloads_failed"`
	LastTrigger   string         `json:"last_trigger,omitempty"`
	LastError     []string       `json:"last_error,omitempty"`
	LastErrorAt   *time.Time     `json:"last_error_at,omitempty"`
	NeedsRestart  []string       `json:"needs_restart"` // [] when none
	Upstreams     []string       `json:"upstreams"`
	SessionCache  sessionCache   `json:"session_cache"`
}

// sessionCache is session.Stats in GET /admin/config.
type sessionCache struct {
	CacheHits     uint64 `json:"cache_hits"`
	CacheMisses   uint64 `json:"cache_misses"`
	Verifications uint64 `json:"verifications"`
	Revoked       int64  `json:"revoked"`
}

// clusterStatus is the health of the cluster's Redis in GET /admin/config.
type clusterStatus struct {
	Up        bool      `json:"up"`
	Since     time.Time `json:"since"`
	LastError string    `json:"last_error,omitempty"`
}

func (a *admin) config(w http.ResponseWriter, r *http.Request) {
	var st configStatus
	if a.reload == nil {
		st = a.status(reload.Status{})
	} else {
		// Within View the snapshot in service and the reload outcome
		// belong together.
		a.reload.View(func(rs reload.Status) { st = a.status(rs) })
	}
	ss := a.srv.sessions.Stats()
	st.SessionCache = sessionCache{CacheHits: ss.CacheHits, CacheMisses: ss.CacheMisses, Verifications: ss.Verifications, Revoked: ss.Revoked}
	st.Instance = a.srv.instance
	if a.srv.cluster != nil {
		up, since, lastErr := a.srv.cluster()
		st.Cluster = &clusterStatus{Up: up, Since: since.UTC(), LastError: lastErr}
	}
	writeAdminJSON(w, http.StatusOK, st)
}

// status is GET /admin/config's body without the session cache: the
// generation in service and the reload outcomes rs.
func (a *admin) status(rs reload.Status) configStatus {
	g := a.srv.gen.Load()
	st := configStatus{LoadedAt: g.loaded.UTC(), Upstreams: []string{}}
	st.ConfigHash = g.snap.Hash()
	for _, u := range g.snap.Upstreams() {
		st.Upstreams = append(st.Upstreams, u.Name()+" "+u.Prefix())
	}
	st.ReloadsOK, st.ReloadsFailed, st.LastTrigger = rs.OK, rs.Failed, rs.LastTrigger
	st.LastError = rs.LastError
	if !rs.LastErrorAt.IsZero() {
		t := rs.LastErrorAt.UTC()
		st.LastErrorAt = &t
	}
	st.NeedsRestart = orEmpty(rs.NeedsRestart)
	return st
}

func (a *admin) reloadNow(w http.ResponseWriter, r *http.Request) {
	if a.reload == nil {
		writeAdminJSON(w, http.StatusNotImplemented, map[string]string{"status": "reload not available"})
		return
	}
	res, err := a.reload.Reload(r.Context(), "admin")
	if err != nil {
		writeAdminJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"status": "rejected", "config_hash": res.ConfigHash, "diagnostics": orEmpty(res.Diagnostics),
		})
		return
	}
	status := "unchanged"
	if res.Changed {
		status = "reloaded"
	}
	writeAdminJSON(w, http.StatusOK, map[string]any{"status": status, "config_hash": res.ConfigHash, "needs_restart": orEmpty(res.NeedsRestart)})
}

// maxExplainBody bounds POST /admin/explain's body.
const maxExplainBody = 64 << 10

// explain answers POST /admin/explain against the snapshot in service: 200
// with the explanation (whatever its decision), 400 for a body that is not
// an ExplainQuery or names nobody the configuration knows.
func (a *admin) explain(w http.ResponseWriter, r *http.Request) {
	var q ExplainQuery
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxExplainBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		writeAdminJSON(w, http.StatusBadRequest, map[string]string{"error": "body: " + err.Error()})
		return
	}
	g := a.srv.gen.Load()
	if g == nil {
		writeAdminJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "no configuration loaded"})
		return
	}
	e, err := Explain(g.snap, q, time.Now())
	if err != nil {
		writeAdminJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeAdminJSON(w, http.StatusOK, e)
}

// requireAdmin lets a request through only with a valid admin session
// (Authorization: Bearer, from POST /auth/login without an API key on the
// public listener) or the static admin token (Authorization: Bearer, its
// SHA-256 in admin_token_sha256), which grants what an admin session
// grants here and nothing on the public listener. Cookies are not
// accepted here.
func (s *Server) requireAdmin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		g := s.gen.Load()
		var tokenHash *[32]byte
		if g != nil && g.rt != nil {
			tokenHash = g.rt.AdminTokenSHA256
		}
		if g == nil || g.keys == nil && tokenHash == nil {
			writeAdminJSON(w, http.StatusForbidden, map[string]string{"error": "admin endpoints need a sessions block and an admin, or admin_token_sha256"})
			return
		}
		auth := r.Header["Authorization"]
		token, ok := "", false
		if len(auth) == 1 {
			token, ok = authn.Bearer(auth[0])
		}
		if !ok {
			w.Header().Set("Www-Authenticate", `Bearer realm="gatehouse-admin"`)
			writeAdminJSON(w, http.StatusUnauthorized, map[string]string{"error": "admin session required"})
			return
		}
		if tokenHash != nil && adminTokenMatches(token, tokenHash) {
			next(w, r)
			return
		}
		err := errors.New("not the admin token, and no sessions block")
		if g.keys != nil {
			var sess *session.Session
			sess, err = s.sessions.Verify(g.keys, token)
			if err == nil && !sess.Admin {
				err = errors.New("not an admin session")
			}
			if err == nil {
				if reason := authn.AdminRefusal(g.snap, sess.Subject); reason != "" {
					err = errors.New(reason)
				}
			}
		}
		if err != nil {
			s.log.Warn("admin request refused", "path", r.URL.Path, "error", err.Error())
			w.Header().Set("Www-Authenticate", `Bearer realm="gatehouse-admin"`)
			writeAdminJSON(w, http.StatusUnauthorized, map[string]string{"error": "admin session required"})
			return
		}
		next(w, r)
	}
}

// adminTokenMatches reports whether token's SHA-256 is want, comparing in
// constant time.
func adminTokenMatches(token string, want *[32]byte) bool {
	if token == "" { // "Bearer" alone; config refuses the empty string's hash too
		return false
	}
	got := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// orEmpty returns l, or an empty list for nil: the admin API's lists are []
// when empty, never null.
func orEmpty(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// writeAdminJSON writes v, the admin API's JSON answer: snake_case keys,
// lists [] when empty (orEmpty), and an error or last_error left out when
// there is none (TestAdminJSON_SnakeCaseNoNull walks every answer).
func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
