package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy"
	"github.com/gatehouse-dev/gatehouse/reload"
	"github.com/gatehouse-dev/gatehouse/settings"
)

const needsRestartConfig = `
server {
  listen     = "%s"
  production = %t
}

upstream "hr" {
  url    = "http://127.0.0.1:9002"
  prefix = "/hr"
}
`

// A reload that changes a listener setting applies everything else and
// reports the setting as needing a restart.
func TestReloader_NeedsRestartAppliesTheRest(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gatehouse.hcl")
	writeFile(t, file, fmt.Sprintf(needsRestartConfig, "127.0.0.1:8080", true))
	load := func() (*policy.Snapshot, *settings.Runtime, error) {
		snap, rt, _, diags := config.LoadSnapshot(file)
		if diags.HasErrors() {
			return nil, nil, diagError{diags: diags}
		}
		return snap, rt, nil
	}
	first, firstRT, err := load()
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	srv := proxy.New(proxy.Options{Logger: logger})
	defer srv.Close()
	srv.Load(first, nil)
	rl := reload.New(srv, reload.Options{Load: load, Logger: logger,
		NeedsRestart: func(next *settings.Runtime) []string { return needsRestart(firstRT, next) }})

	res, err := rl.Reload(context.Background(), "test")
	if err != nil || res.Changed {
		t.Fatalf("identical files: %+v %v, want unchanged", res, err)
	}
	writeFile(t, file, fmt.Sprintf(needsRestartConfig, "127.0.0.1:9090", false))
	res, err = rl.Reload(context.Background(), "test")
	if err != nil || !res.Changed || fmt.Sprint(res.NeedsRestart) != "[listen]" {
		t.Fatalf("listener change: %+v %v", res, err)
	}
	if srv.Snapshot().Production() {
		t.Error("production = false did not apply with the listener change")
	}
	writeFile(t, file, "upstream {")
	if _, err := rl.Reload(context.Background(), "test"); err == nil {
		t.Error("a broken file reloaded")
	}
	if srv.Snapshot().Hash() != res.ConfigHash {
		t.Error("a rejected reload changed the snapshot in service")
	}
}

// Secret lookups are never printed: not by validate (even next to an
// error), not in /admin/config.
func TestSecretLookupsNeverPrinted(t *testing.T) {
	const secret = "s3cr3t-marker-value"
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), `
secret_lookups {
  partner_token = "`+secret+`"
}

upstream "hr" {
  url     = "http://127.0.0.1:9002"
  prefix  = "/hr"
  headers = { "Authorization" = "Bearer {lookup.partner_token}" }
}

app "portal" {
  api_key_sha256 = "`+strings.Repeat("ab", 32)+`"
  secret_lookups = { other = "`+secret+`" }
  default_role   = "missing_role"
}
`)
	code, stdout, stderr := runCmd(t, dir, "validate", "--config", dir)
	if code == 0 {
		t.Fatal("validate accepted a config with an unknown role")
	}
	if strings.Contains(stdout+stderr, secret) {
		t.Errorf("validate printed a secret lookup:\n%s%s", stdout, stderr)
	}
	if !strings.Contains(stderr, `= "*******************" }`) {
		t.Errorf("the snippet does not show the redacted line:\n%s", stderr)
	}
}

// A reload that succeeds logs its warnings, as start prints them: here an
// API key that expires in two days.
func TestReloadFrom_LogsWarnings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gatehouse.hcl")
	soon := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	writeFile(t, file, fmt.Sprintf(needsRestartConfig, "127.0.0.1:8080", true)+fmt.Sprintf(`
app "portal" {
  api_key "2026-12" {
    sha256    = %q
    not_after = %q
  }
}
`, hashKey("k"), soon))
	var buf strings.Builder
	snap, _, err := reloadFrom(file, slog.New(slog.NewJSONHandler(&buf, nil)))()
	if err != nil || snap == nil {
		t.Fatalf("reload: %v", err)
	}
	if out := buf.String(); !strings.Contains(out, `"msg":"config warning"`) || !strings.Contains(out, `"summary":"API key expiring"`) ||
		!strings.Contains(out, `gatehouse.hcl:`) {
		t.Errorf("log %q: want one config warning for the expiring key, with its position", out)
	}
}
