// Package reload is the one way a new configuration goes into service,
// whatever triggered it (SIGHUP, the file watcher, POST /admin/reload):
// load the configuration again (read every file, parse, validate,
// compile), then swap. It owns the serialization of attempts and their
// outcomes (counters, last error, last trigger, settings that need a
// restart), which the admin listener reports. A rejected configuration
// changes nothing; the old one keeps serving.
package reload

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/settings"
)

// Result is what a reload attempt did.
type Result struct {
	Changed      bool     // a new snapshot is in service
	ConfigHash   string   // hash of the config in service afterwards
	Diagnostics  []string // why it was rejected (file:line:col: summary; detail)
	NeedsRestart []string // changed settings that apply only after a restart
}

// Target is what a Reloader puts snapshots in service on (proxy.Server).
type Target interface {
	// Load puts snap in service, with its runtime settings rt.
	Load(snap *policy.Snapshot, rt *settings.Runtime)
	// Snapshot returns the snapshot in service.
	Snapshot() *policy.Snapshot
}

// Diagnosed is an error of Options.Load that carries the configuration's
// diagnostics; they are logged and reported one by one.
type Diagnosed interface {
	error
	// Diagnostics returns every diagnostic, one line each
	// (file:line:col: summary; detail), and how many of them are errors.
	Diagnostics() (lines []string, errs int)
}

// Options configure a Reloader.
type Options struct {
	// Load loads the configuration again: the snapshot and its runtime
	// settings. An error rejects the reload (a Diagnosed error says why in
	// detail). Required.
	Load func() (*policy.Snapshot, *settings.Runtime, error)
	// Logger receives the outcome of every attempt. Required.
	Logger *slog.Logger
	// NeedsRestart lists the settings of a new configuration that a
	// reload cannot apply (the listeners, the cluster); nil: none.
	NeedsRestart func(next *settings.Runtime) []string
	// After, if set, runs after every attempt whatever its outcome
	// (gatehouse re-reads a static TLS certificate there).
	After func(trigger string)
}

// Status is what the admin listener reports about reloads.
type Status struct {
	OK, Failed   uint64    // attempts that put a new snapshot in service, and rejected ones
	LastTrigger  string    // of the last attempt that changed something or failed
	LastError    []string  // of the last attempt, if it failed
	LastErrorAt  time.Time // zero unless the last attempt failed
	NeedsRestart []string  // of the last successful reload
}

// Reloader serializes reload attempts into one Target and keeps their
// outcomes.
type Reloader struct {
	into Target
	opts Options

	serial sync.Mutex // one attempt at a time

	// mu guards st, and is held while a reload puts its snapshot in
	// service, so that View sees a snapshot together with the outcome of
	// the attempt that loaded it.
	mu sync.Mutex
	st Status
}

// New returns a Reloader that puts the snapshots of opts.Load in service
// on into.
func New(into Target, opts Options) *Reloader {
	return &Reloader{into: into, opts: opts}
}

// Reload loads the configuration again and, when it is valid and differs
// from the one in service, puts it in service. It returns an error when the
// new configuration is rejected; the old one then keeps serving.
func (r *Reloader) Reload(ctx context.Context, trigger string) (Result, error) {
	r.serial.Lock()
	defer r.serial.Unlock()
	if r.opts.After != nil {
		defer r.opts.After(trigger)
	}
	log := r.opts.Logger
	start := time.Now()
	cur := r.into.Snapshot()
	next, rt, err := r.opts.Load()
	if err != nil {
		res := Result{ConfigHash: cur.Hash()}
		var de Diagnosed
		if errors.As(err, &de) {
			lines, errs := de.Diagnostics()
			for _, d := range lines {
				res.Diagnostics = append(res.Diagnostics, d)
				log.Error("config diagnostic", "trigger", trigger, "diagnostic", d)
			}
			log.Error("reload rejected; old config keeps serving", "trigger", trigger, "errors", errs, "config_hash", cur.Hash())
		} else {
			log.Error("reload rejected; old config keeps serving", "trigger", trigger, "error", err.Error(), "config_hash", cur.Hash())
		}
		r.mu.Lock()
		r.record(trigger, res, err)
		r.mu.Unlock()
		return res, err
	}
	if next.Hash() == cur.Hash() {
		// Watchers see touches and rewrites of identical content. After a
		// rejected attempt, identical content means the files were fixed
		// back to the configuration in service: its error no longer
		// describes them, so GET /admin/config stops showing it.
		r.mu.Lock()
		recovered := len(r.st.LastError) > 0
		if recovered {
			r.st.LastError, r.st.LastErrorAt, r.st.LastTrigger = nil, time.Time{}, trigger
		}
		r.mu.Unlock()
		if recovered {
			log.Info("config unchanged: the files are valid again and match the config in service; the last reload error is cleared",
				"trigger", trigger, "config_hash", cur.Hash())
		} else {
			log.Info("config unchanged", "trigger", trigger, "config_hash", cur.Hash())
		}
		return Result{ConfigHash: cur.Hash()}, nil
	}
	res := Result{Changed: true, ConfigHash: next.Hash()}
	if r.opts.NeedsRestart != nil {
		res.NeedsRestart = r.opts.NeedsRestart(rt)
	}
	// Load and record in one step: View never shows the new snapshot next
	// to the previous attempt's error.
	r.mu.Lock()
	recovered := len(r.st.LastError) > 0
	r.into.Load(next, rt)
	r.record(trigger, res, nil)
	r.mu.Unlock()
	log.Info("config reloaded", "trigger", trigger, "config_hash", next.Hash(), "recovered", recovered,
		"duration_ms", float64(time.Since(start).Microseconds())/1000)
	if len(res.NeedsRestart) > 0 {
		log.Warn("server settings changed that apply only after a restart; the rest of the reload applies now", "settings", res.NeedsRestart)
	}
	return res, nil
}

// record notes an attempt; r.mu must be held. The slices of r.st are
// replaced, never modified, so a Status handed out stays as it was.
func (r *Reloader) record(trigger string, res Result, err error) {
	st := &r.st
	st.LastTrigger = trigger
	if err != nil {
		st.Failed++
		st.LastError = append([]string(nil), res.Diagnostics...)
		if len(st.LastError) == 0 {
			st.LastError = []string{err.Error()}
		}
		st.LastErrorAt = time.Now()
		return
	}
	st.OK++
	st.LastError, st.LastErrorAt = nil, time.Time{}
	st.NeedsRestart = append([]string(nil), res.NeedsRestart...)
}

// View calls f with the outcomes of the attempts so far. No reload puts a
// snapshot in service while f runs, so what f reads of the Target (the
// snapshot in service, its load time) belongs with them. f must not call
// Reload.
func (r *Reloader) View(f func(Status)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r.st)
}
