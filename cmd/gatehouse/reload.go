package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy"
)

// reloader is the one way a new configuration goes into service, whatever
// triggered it (SIGHUP, the file watcher, POST /admin/reload): read every
// file, parse, validate, compile, then swap. Attempts are serialized. A
// rejected configuration changes nothing; the old one keeps serving.
type reloader struct {
	mu      sync.Mutex
	load    func() (*policy.Snapshot, error)
	srv     *proxy.Server
	log     *slog.Logger
	started policy.Server // settings the listeners were built with
	// onReload, if set, runs after every attempt whatever its outcome;
	// it re-reads a static TLS certificate.
	onReload func(trigger string)
}

func (r *reloader) reload(ctx context.Context, trigger string) (proxy.ReloadResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.onReload != nil {
		defer r.onReload(trigger)
	}
	start := time.Now()
	cur := r.srv.Snapshot()
	next, err := r.load()
	if err != nil {
		res := proxy.ReloadResult{ConfigHash: cur.Hash()}
		var de diagError
		if errors.As(err, &de) {
			for _, d := range de.diags {
				res.Diagnostics = append(res.Diagnostics, d.Error())
				r.log.Error("config diagnostic", "trigger", trigger, "diagnostic", d.Error())
			}
			r.log.Error("reload rejected; old config keeps serving", "trigger", trigger, "errors", len(de.diags.Errs()), "config_hash", cur.Hash())
		} else {
			r.log.Error("reload rejected; old config keeps serving", "trigger", trigger, "error", err.Error(), "config_hash", cur.Hash())
		}
		r.srv.RecordReload(trigger, res, err)
		return res, err
	}
	if next.Hash() == cur.Hash() {
		// Watchers see touches and rewrites of identical content.
		r.log.Debug("config unchanged", "trigger", trigger, "config_hash", cur.Hash())
		return proxy.ReloadResult{ConfigHash: cur.Hash()}, nil
	}
	res := proxy.ReloadResult{Changed: true, ConfigHash: next.Hash(), NeedsRestart: restartOnly(r.started, next.Server())}
	r.srv.LoadReloaded(next, trigger, res)
	r.log.Info("config reloaded", "trigger", trigger, "config_hash", next.Hash(),
		"duration_ms", float64(time.Since(start).Microseconds())/1000)
	if len(res.NeedsRestart) > 0 {
		r.log.Warn("server settings changed that apply only after a restart; the rest of the reload applies now", "settings", res.NeedsRestart)
	}
	return res, nil
}

// emptySource reports whether every file of a configuration is empty (zero
// bytes). On a reload that is nearly always a file caught between its
// truncation and its write: an in-place save (O_TRUNC, then write), which
// the watcher can see in between when the writer is slow. Loading it would
// put a configuration without apps or upstreams in service, refusing every
// request until the next change; so a reload refuses it like any broken
// configuration, and the write's own event reloads the real one. (At
// start-up an empty file is still valid: nothing is in service to keep.)
func emptySource(files map[string]*hcl.File) bool {
	for _, f := range files {
		if len(f.Bytes) > 0 {
			return false
		}
	}
	return true
}

// emptyReload is the diagnostic of a reload that found only empty files.
func emptyReload(path string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Empty configuration",
		Detail:   fmt.Sprintf("Every file of %s is empty (0 bytes), most likely a save caught halfway; the configuration in service keeps serving. A configuration meant to serve nothing needs at least a comment.", path),
	}
}
