package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy/authn"
)

// ReloadResult is what a reload attempt did.
type ReloadResult struct {
	Changed      bool     // a new snapshot is in service
	ConfigHash   string   // hash of the config in service afterwards
	Diagnostics  []string // why it was rejected (file:line:col: summary; detail)
	NeedsRestart []string // changed settings that apply only after a restart
}

// Reloader loads the configuration again and, when it is valid, puts it in
// service (Server.Load). It returns an error when the new configuration is
// rejected; the old one then keeps serving. Calls are serialized by the
// caller's implementation.
type Reloader func(ctx context.Context, trigger string) (ReloadResult, error)

// reloadState is what the admin listener reports about reloads.
type reloadState struct {
	mu           sync.Mutex
	ok, failed   uint64
	lastError    []string
	lastErrorAt  time.Time
	lastTrigger  string
	needsRestart []string
}

// RecordReload notes the outcome of a reload attempt for GET /admin/config.
// A successful reload goes through LoadReloaded instead.
func (s *Server) RecordReload(trigger string, res ReloadResult, err error) {
	s.reloads.mu.Lock()
	defer s.reloads.mu.Unlock()
	s.reloads.record(trigger, res, err)
}

// LoadReloaded puts snap in service (Load) and records the successful
// reload in one step, so that GET /admin/config never shows the new
// snapshot next to the previous attempt's error.
func (s *Server) LoadReloaded(snap *policy.Snapshot, trigger string, res ReloadResult) {
	s.reloads.mu.Lock()
	defer s.reloads.mu.Unlock()
	s.Load(snap)
	s.reloads.record(trigger, res, nil)
}

// record notes an attempt; st.mu must be held.
func (st *reloadState) record(trigger string, res ReloadResult, err error) {
	st.lastTrigger = trigger
	if err != nil {
		st.failed++
		st.lastError = append([]string(nil), res.Diagnostics...)
		if len(st.lastError) == 0 {
			st.lastError = []string{err.Error()}
		}
		st.lastErrorAt = time.Now()
		return
	}
	st.ok++
	st.lastError, st.lastErrorAt = nil, time.Time{}
	st.needsRestart = append([]string(nil), res.NeedsRestart...)
}

// configStatus is the body of GET /admin/config. It never contains
// configuration values: secrets (keys, passwords, secret lookups) cannot
// leak through it.
type configStatus struct {
	ConfigHash    string     `json:"config_hash"`
	LoadedAt      time.Time  `json:"loaded_at"`
	ReloadsOK     uint64     `json:"reloads_ok"`
	ReloadsFailed uint64     `json:"reloads_failed"`
	LastTrigger   string     `json:"last_trigger,omitempty"`
	LastError     []string   `json:"last_error,omitempty"`
	LastErrorAt   *time.Time `json:"last_error_at,omitempty"`
	NeedsRestart  []string   `json:"needs_restart,omitempty"`
	Upstreams     []string   `json:"upstreams"`
	SessionCache  any        `json:"session_cache"`
}

func (s *Server) adminConfig(w http.ResponseWriter, r *http.Request) {
	// Under reloads.mu the snapshot in service and the reload outcome
	// belong together (LoadReloaded).
	s.reloads.mu.Lock()
	g := s.gen.Load()
	st := configStatus{LoadedAt: g.loaded.UTC(), Upstreams: []string{}}
	st.ConfigHash = g.snap.Hash()
	for _, u := range g.snap.Upstreams() {
		st.Upstreams = append(st.Upstreams, u.Name()+" "+u.Prefix())
	}
	st.ReloadsOK, st.ReloadsFailed, st.LastTrigger = s.reloads.ok, s.reloads.failed, s.reloads.lastTrigger
	st.LastError = s.reloads.lastError
	if !s.reloads.lastErrorAt.IsZero() {
		t := s.reloads.lastErrorAt.UTC()
		st.LastErrorAt = &t
	}
	st.NeedsRestart = s.reloads.needsRestart
	s.reloads.mu.Unlock()
	st.SessionCache = s.sessions.Stats()
	writeAdminJSON(w, http.StatusOK, st)
}

func (s *Server) adminReload(w http.ResponseWriter, r *http.Request) {
	if s.reloader == nil {
		writeAdminJSON(w, http.StatusNotImplemented, map[string]string{"status": "reload not available"})
		return
	}
	res, err := s.reloader(r.Context(), "admin")
	if err != nil {
		writeAdminJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"status": "rejected", "config_hash": res.ConfigHash, "diagnostics": res.Diagnostics,
		})
		return
	}
	status := "unchanged"
	if res.Changed {
		status = "reloaded"
	}
	writeAdminJSON(w, http.StatusOK, map[string]any{"status": status, "config_hash": res.ConfigHash, "needs_restart": res.NeedsRestart})
}

// requireAdmin lets a request through only with a valid admin session
// (Authorization: Bearer, from POST /auth/login without an API key on the
// public listener). Cookies are not accepted here.
func (s *Server) requireAdmin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		g := s.gen.Load()
		if g == nil || g.keys == nil {
			writeAdminJSON(w, http.StatusForbidden, map[string]string{"error": "admin endpoints need a sessions block and an admin"})
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
		sess, err := s.sessions.Verify(g.keys, token)
		if err == nil && !sess.Admin {
			err = errors.New("not an admin session")
		}
		if err == nil {
			if reason := authn.AdminRefusal(g.snap, sess.Subject); reason != "" {
				err = errors.New(reason)
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

func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
