package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/policy/password"
)

//go:embed demo.hcl
var demoConfig []byte

var demoHelp = commandHelp{
	synopsis: "gatehouse demo [--listen ADDR] [--admin ADDR] [--log-format json|text]",
	about:    `Runs a built-in demo on loopback: an example config and a small API behind it, with API keys printed at start. Ctrl-C stops it.`,
	examples: `  gatehouse demo
  gatehouse demo --listen 127.0.0.1:8081 --admin 127.0.0.1:9902
  gatehouse demo --log-format text                  # key=value logs instead of JSON`,
}

func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8080", "public listener of the demo")
	adminListen := fs.String("admin", "127.0.0.1:9901", "admin listener of the demo")
	format := logFormatFlag(fs)
	if code, ok := parseFlags(fs, args, demoHelp, stdout, stderr); !ok {
		return code
	}
	if _, _, ok := newLogger(io.Discard, *format, slog.LevelInfo); !ok {
		fmt.Fprintf(stderr, "gatehouse demo: unknown --log-format %q (json or text)\n", *format)
		return 2
	}
	ctx, hurry, stop := stopSignals()
	defer stop()
	if err := runDemo(ctx, hurry, *listen, *adminListen, *format, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "gatehouse demo: %v\n", err)
		return 1
	}
	return 0
}

func runDemo(ctx context.Context, hurry <-chan struct{}, listen, adminListen, logFormat string, stdout, stderr io.Writer) error {
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo upstream: %w", err)
	}
	up := &http.Server{Handler: demoAPI(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = up.Serve(upLn) }()
	defer up.Close()

	dir, err := os.MkdirTemp("", "gatehouse-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfgPath := filepath.Join(dir, "demo.hcl")
	if err := os.WriteFile(cfgPath, demoConfig, 0o600); err != nil {
		return err
	}
	portalKey, portalHash := newAPIKey()
	boKey, boHash := newAPIKey()
	signingKey, _ := newAPIKey()
	adaPassword, _ := newAPIKey()
	adaPassword = "ada-" + adaPassword[3:15]
	adaHash, err := password.New(adaPassword, password.DefaultParams())
	if err != nil {
		return err
	}
	for k, v := range map[string]string{
		"GATEHOUSE_DEMO_LISTEN":            listen,
		"GATEHOUSE_DEMO_ADMIN":             adminListen,
		"GATEHOUSE_DEMO_UPSTREAM":          "http://" + upLn.Addr().String(),
		"GATEHOUSE_DEMO_PORTAL_SHA256":     portalHash,
		"GATEHOUSE_DEMO_BACKOFFICE_SHA256": boHash,
		"GATEHOUSE_DEMO_SIGNING_KEY":       signingKey,
		"GATEHOUSE_DEMO_ADA_HASH":          adaHash,
	} {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	snap, rt, _, diags := config.LoadSnapshot(cfgPath)
	if diags.HasErrors() {
		return diagError{diags: diags}
	}
	sink := newLogSink(stderr, 100*time.Millisecond)
	defer sink.Close()
	logger, text, _ := newLogger(sink, logFormat, slog.LevelInfo)
	hooks := &serveHooks{ready: func(public, admin net.Addr) {
		base := "http://" + public.String()
		fmt.Fprintf(stdout, `
gatehouse demo is running: %[1]s -> demo HR API (in-process, %[2]s)
Config: the embedded demo.hcl (apps "portal" and "backoffice", roles "employee_directory" and "hr_manager", user "ada").
Access log: on stderr, JSON lines (--log-format text: key=value). Stop with Ctrl-C.

# allowed: the portal app may list employees (200)
curl -i -H 'X-API-Key: %[3]s' %[1]s/hr/employees

# forbidden: the portal role denies salaries (403, reason grant_denied)
curl -i -H 'X-API-Key: %[3]s' %[1]s/hr/employees/1/salary

# unauthenticated: no API key (401, reason missing_api_key)
curl -i %[1]s/hr/employees

# the backoffice app's role may read salaries (200)
curl -i -H 'X-API-Key: %[4]s' %[1]s/hr/employees/1/salary

# refused before any decision: an encoded dot segment (400, reason bad_path)
curl -i --path-as-is -H 'X-API-Key: %[3]s' '%[1]s/hr/employees/%%2e%%2e/1/salary'

# public route, no key needed; the API echoes the identity headers it received
curl -i %[1]s/status/whoami
curl -i -H 'X-API-Key: %[3]s' -H 'X-Gatehouse-Role: hr_manager' %[1]s/hr/employees/whoami

# health on the admin listener (loopback only)
curl -i http://%[5]s/readyz

# log in as user "ada" through the portal app, then use the session token:
# ada's role in portal (hr_manager) may read salaries (200)
curl -s -H 'X-API-Key: %[3]s' -H 'Content-Type: application/json' -d '{"username":"ada","password":"%[6]s"}' %[1]s/auth/login
TOKEN=$(curl -s -H 'X-API-Key: %[3]s' -H 'Content-Type: application/json' -d '{"username":"ada","password":"%[6]s"}' %[1]s/auth/login | sed -n 's/.*"session_token":"\([^"]*\)".*/\1/p')
curl -i -H 'X-API-Key: %[3]s' -H "Authorization: Bearer $TOKEN" %[1]s/hr/employees/1/salary

`, base, upLn.Addr(), portalKey, boKey, admin, adaPassword)
	}}
	err = serve(ctx, hurry, serveLogs{logger, sink, text}, snap, rt, nil, nil, hooks)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

type employee struct {
	ID         int    `json:"id"`
	Name       string `json:"name"`
	Department string `json:"department"`
	Level      int    `json:"level"`
}

// demoAPI is the in-process upstream of the demo: a tiny HR API that also
// echoes the gatehouse headers it receives on .../whoami.
func demoAPI() http.Handler {
	staff := []employee{
		{1, "Ada Lovelace", "engineering", 3},
		{2, "Grace Hopper", "engineering", 4},
		{3, "Katherine Johnson", "sales", 2},
	}
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	find := func(id string) (employee, bool) {
		for _, e := range staff {
			if fmt.Sprint(e.ID) == id {
				return e, true
			}
		}
		return employee{}, false
	}
	mux := http.NewServeMux()
	whoami := func(w http.ResponseWriter, r *http.Request) {
		got := map[string]string{}
		keys := make([]string, 0, len(r.Header))
		for k := range r.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			lk := strings.ToLower(k)
			if strings.HasPrefix(lk, "x-gatehouse-") || strings.HasPrefix(lk, "x-forwarded-") || lk == "x-api-key" || lk == "x-request-id" {
				got[k] = r.Header.Get(k)
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"path": r.URL.EscapedPath(), "headers": got})
	}
	mux.HandleFunc("GET /whoami", whoami)
	mux.HandleFunc("GET /employees/whoami", whoami)
	mux.HandleFunc("GET /employees", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, staff) })
	mux.HandleFunc("GET /employees/{id}", func(w http.ResponseWriter, r *http.Request) {
		if e, ok := find(r.PathValue("id")); ok {
			writeJSON(w, http.StatusOK, e)
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such employee"})
	})
	mux.HandleFunc("GET /employees/{id}/salary", func(w http.ResponseWriter, r *http.Request) {
		if e, ok := find(r.PathValue("id")); ok {
			writeJSON(w, http.StatusOK, map[string]any{"id": e.ID, "salary": 90000 + 10000*e.Level})
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such employee"})
	})
	return mux
}
