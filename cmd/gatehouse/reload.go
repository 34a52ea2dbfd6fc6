package main

import (
	"fmt"
	"log/slog"

	"github.com/hashicorp/hcl/v2"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/settings"
)

// reloadFrom is the load func of gatehouse run's reloader (reload.New):
// the configuration at path, read, parsed, validated and compiled again.
// Its errors come back in a diagError; the warnings of a configuration
// that loads (an API key that expires soon, a plain ldap:// URL) are
// logged, one line each, as they are printed at start.
func reloadFrom(path string, logger *slog.Logger) func() (*policy.Snapshot, *settings.Runtime, error) {
	return func() (*policy.Snapshot, *settings.Runtime, error) {
		snap, rt, files, diags := config.LoadSnapshot(path)
		if !diags.HasErrors() && emptySource(files) {
			diags = append(diags, emptyReload(path))
		}
		if diags.HasErrors() {
			return nil, nil, diagError{diags: diags}
		}
		for _, d := range diags {
			attrs := []any{"summary", d.Summary, "detail", d.Detail}
			if d.Subject != nil {
				attrs = append(attrs, "at", d.Subject.String())
			}
			logger.Warn("config warning", attrs...)
		}
		return snap, rt, nil
	}
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
