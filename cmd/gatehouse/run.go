package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/config/watch"
	"github.com/gatehouse-dev/gatehouse/metrics"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy"
	"github.com/gatehouse-dev/gatehouse/reload"
	"github.com/gatehouse-dev/gatehouse/settings"
	"github.com/gatehouse-dev/gatehouse/store/redisstore"
	"github.com/redis/go-redis/v9"
)

var runHelp = commandHelp{
	synopsis: "gatehouse run [--config PATH] [--log-level LEVEL] [--log-format json|text] [--watch=false]",
	about: `Serves traffic with the configuration at PATH: a .hcl file, or a directory whose
*.hcl files are read together. Logs are JSON on stderr (--log-format text, or
GATEHOUSE_LOG_FORMAT=text: key=value lines for a terminal). SIGHUP, POST /admin/reload
and (unless --watch=false) a change to the files reload it; a config with
errors is refused and the running one keeps serving. SIGTERM or Ctrl-C stops it.`,
	examples: `  gatehouse run --config /etc/gatehouse/gatehouse.hcl
  gatehouse run --config /etc/gatehouse/conf.d --log-level debug   # every *.hcl in the directory
  gatehouse run --config gatehouse.hcl --log-format text           # readable logs at a terminal
  kill -HUP "$(pidof gatehouse)"                                     # reload now`,
}

func cmdRun(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	path := fs.String("config", "gatehouse.hcl", "config file or directory of .hcl files")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	format := logFormatFlag(fs)
	watchFiles := fs.Bool("watch", true, "reload when the config files change (SIGHUP and POST /admin/reload always work)")
	debounce := fs.Duration("watch-debounce", 250*time.Millisecond, "quiet time after the last file change before reloading")
	if code, ok := parseFlags(fs, args, runHelp, stderr, stderr); !ok {
		return code
	}
	lvl, ok := parseLevel(*level)
	if !ok {
		fmt.Fprintf(stderr, "gatehouse run: unknown -log-level %q\n", *level)
		return 2
	}
	sink := newLogSink(stderr, 200*time.Millisecond)
	defer sink.Close()
	logger, text, ok := newLogger(sink, *format, lvl)
	if !ok {
		fmt.Fprintf(stderr, "gatehouse run: unknown --log-format %q (json or text)\n", *format)
		return 2
	}
	ctx, hurry, stop := stopSignals()
	defer stop()
	// go-redis logs through ours (debug records), not in plain text on
	// stderr; it keeps one logger per process.
	redis.SetLogger(redisstore.Logger{Log: logger})
	// Watch before the first load, so that a change made while it runs
	// is not missed (it costs at most one reload of identical content).
	var changes <-chan struct{}
	var watchErr error
	if *watchFiles {
		w, err := watch.New(*path, watch.Options{Debounce: *debounce, Logger: logger.With("component", "watch")})
		if err == nil {
			defer w.Close()
			changes = w.Changes()
		}
		watchErr = err
	}
	snap, rt, files, diags := config.LoadSnapshot(*path)
	if len(diags) > 0 { // errors, or warnings worth seeing at start
		printDiagnostics(stderr, files, diags)
	}
	if diags.HasErrors() {
		return 1
	}
	if watchErr != nil {
		logger.Error("cannot watch the config; reload with SIGHUP or POST /admin/reload", "path", *path, "error", watchErr.Error())
	}
	if err := serve(ctx, hurry, serveLogs{logger, sink, text}, snap, rt, reloadFrom(*path, logger), changes, nil); err != nil {
		logger.Error("gatehouse stopped", "error", err)
		_ = sink.Close()
		return 1
	}
	return 0
}

// serveLogs is where serve logs: the process log, and the access log
// (one line per request) in JSON or, with accessText, as
// slog.TextHandler writes.
type serveLogs struct {
	logger     *slog.Logger
	access     io.Writer
	accessText bool
}

// serveHooks lets callers (the demo, tests) learn the bound addresses.
type serveHooks struct {
	ready func(public, admin net.Addr)
}

// serve runs the public and admin listeners of rt, serving snap, until ctx ends, then
// drains for shutdown_delay (/readyz answers 503 while every listener
// keeps serving; hurry closing cuts it short) and shuts down gracefully
// within shutdown_timeout. With a load func, SIGHUP,
// changes and POST /admin/reload reload: a config that fails to load is
// logged with every diagnostic and the old snapshot keeps serving; without
// one (the demo), POST /admin/reload answers 501 and SIGHUP does nothing.
func serve(ctx context.Context, hurry <-chan struct{}, logs serveLogs, snap *policy.Snapshot, rt *settings.Runtime, load func() (*policy.Snapshot, *settings.Runtime, error), changes <-chan struct{}, hooks *serveHooks) error {
	// Take SIGHUP before anything can be told we are up: its default action
	// would end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	// Every record of this process names it: with several instances
	// behind one load balancer, logs say which one spoke.
	instance := newInstanceID()
	logger := logs.logger.With("instance", instance)
	cl, err := openCluster(ctx, rt.Cluster, logger)
	if err != nil {
		return err
	}
	defer cl.close() // after the listeners: requests in flight may still use it
	start := rt.Listeners
	ls, err := openListeners(start, logger, cl.stores)
	if err != nil {
		return err
	}
	defer ls.close()
	// The process's metrics (GET /metrics on the admin listener).
	reg := metrics.New()
	// Over TLS, a request must name a served host, the one its
	// connection's SNI named (421 otherwise).
	srv := proxy.New(proxy.Options{
		Logger: logger, AccessLog: logs.access, AccessLogText: logs.accessText, ServedHost: ls.servedHost(),
		Stores: cl.stores, LimitsOnError: cl.limitsOnError, RateLimitsOnError: cl.rateLimitsOnError, InstanceID: instance, ClusterState: cl.state(),
		Metrics: reg, RateLimitHooks: rateLimitHooks(reg),
	})
	defer srv.Close()
	srv.Load(snap, rt)
	var rl *reload.Reloader
	if load != nil {
		rl = reload.New(srv, reload.Options{
			Load:         load,
			Logger:       logger,
			NeedsRestart: func(next *settings.Runtime) []string { return needsRestart(rt, next) },
			After:        ls.reloadCertificate,
		})
	}
	registerMetrics(reg, cl, ls, rl)
	inst := startInstances(cl, srv, rl, logger)
	defer inst.close() // before cl.close: it deletes this instance's heartbeat
	admin := srv.AdminHandler(inst.adminOptions(proxy.AdminOptions{Reload: rl, Pprof: os.Getenv("GATEHOUSE_PPROF") == "1"}))
	if err := ls.start(srv, admin, srv.WriteError); err != nil {
		return err
	}
	logger.Info("config loaded", "config_hash", snap.Hash(), "upstreams", len(snap.Upstreams()))
	logMemorySettings(logger)
	if hooks != nil && hooks.ready != nil {
		hooks.ready(ls.public.Addr(), ls.admin.Addr())
	}

	var serveErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-ls.errors():
			serveErr = err
			break loop
		case <-hup:
			if rl != nil {
				_, _ = rl.Reload(ctx, "sighup")
			}
		case <-changes:
			if rl != nil {
				_, _ = rl.Reload(ctx, "file")
			}
		case <-ls.certChanges():
			ls.reloadCertificate("file")
		}
	}
	srv.Drain()
	if serveErr == nil {
		serveErr = drain(logger, start.ShutdownDelay, hurry, ls.errors())
	}
	logger.Info("shutting down", "timeout", start.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), start.ShutdownTimeout)
	defer cancel()
	ls.shutdown(sctx)
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}
