package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"time"
)

// AdminHandler serves the admin listener: /healthz (the process is up),
// /readyz (a snapshot is loaded; 503 before), and, with an admin session,
// GET /admin/config (hash, load time, reload outcomes; no config values)
// and POST /admin/reload. With Options.Pprof it also
// serves /debug/pprof/. Nothing here is reachable on the public listener,
// which only ever runs the pipeline.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /admin/config", s.requireAdmin(s.adminConfig))
	mux.HandleFunc("POST /admin/reload", s.requireAdmin(s.adminReload))
	if s.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	g := s.gen.Load()
	if g == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "not_ready"})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{
		"status":      "ready",
		"config_hash": g.snap.Hash(),
		"loaded_at":   g.loaded.UTC().Format(time.RFC3339),
	})
}
