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
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy"
)

func cmdRun(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "gatehouse.hcl", "config file or directory of .hcl files")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	watchFiles := fs.Bool("watch", true, "reload when the config files change (SIGHUP and POST /admin/reload always work)")
	debounce := fs.Duration("watch-debounce", 250*time.Millisecond, "quiet time after the last file change before reloading")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	lvl, ok := parseLevel(*level)
	if !ok {
		fmt.Fprintf(stderr, "gatehouse run: unknown -log-level %q\n", *level)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sink := newLogSink(stderr, 200*time.Millisecond)
	defer sink.Close()
	logger := slog.New(slog.NewJSONHandler(sink, &slog.HandlerOptions{Level: lvl}))
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
	snap, files, diags := config.LoadSnapshot(*path)
	if len(diags) > 0 { // errors, or warnings worth seeing at start
		printDiagnostics(stderr, files, diags)
	}
	if diags.HasErrors() {
		return 1
	}
	if watchErr != nil {
		logger.Error("cannot watch the config; reload with SIGHUP or POST /admin/reload", "path", *path, "error", watchErr.Error())
	}
	reload := func() (*policy.Snapshot, error) {
		snap, files, diags := config.LoadSnapshot(*path)
		if !diags.HasErrors() && emptySource(files) {
			diags = append(diags, emptyReload(*path))
		}
		if diags.HasErrors() {
			return nil, diagError{diags: diags}
		}
		return snap, nil
	}
	if err := serve(ctx, logger, sink, snap, reload, changes, nil); err != nil {
		logger.Error("gatehouse stopped", "error", err)
		_ = sink.Close()
		return 1
	}
	return 0
}

// serveHooks lets callers (the demo, tests) learn the bound addresses.
type serveHooks struct {
	ready func(public, admin net.Addr)
}

// serve runs the public and admin listeners from snap until ctx ends, then
// shuts down gracefully within shutdown_timeout. SIGHUP reloads: a config
// that fails to load is logged with every diagnostic and the old snapshot
// keeps serving.
func serve(ctx context.Context, logger *slog.Logger, accessLog io.Writer, snap *policy.Snapshot, reload func() (*policy.Snapshot, error), changes <-chan struct{}, hooks *serveHooks) error {
	// Take SIGHUP before anything can be told we are up: its default action
	// would end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	settings := snap.Server()
	var rl *reloader
	opts := proxy.Options{Logger: logger, AccessLog: accessLog, Pprof: os.Getenv("GATEHOUSE_PPROF") == "1"}
	if reload != nil {
		rl = &reloader{load: reload, log: logger, started: settings}
		opts.Reload = rl.reload
	}
	publicLn, err := net.Listen("tcp", settings.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", settings.Listen, err)
	}
	adminLn, err := net.Listen("tcp", settings.AdminListen)
	if err != nil {
		publicLn.Close()
		return fmt.Errorf("admin listen %s: %w", settings.AdminListen, err)
	}
	// With a tls block, the public handler moves to tls_listen and listen
	// only answers ACME HTTP-01 challenges and redirects (cmd/gatehouse/tls.go).
	tlsSrv, err := startTLS(settings, logger)
	if err != nil {
		publicLn.Close()
		adminLn.Close()
		return err
	}
	defer tlsSrv.Close()
	// Over TLS, a request must name a served host, the one its
	// connection's SNI named (421 otherwise).
	opts.ServedHost = tlsSrv.servedHost()
	srv := proxy.New(opts)
	defer srv.Close()
	srv.Load(snap)
	if rl != nil {
		rl.srv = srv
	}
	if rl != nil && tlsSrv != nil {
		rl.onReload = tlsSrv.reloadCertificate
	}
	errLog := slog.NewLogLogger(logger.With("component", "http").Handler(), slog.LevelWarn)
	public := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: settings.ReadHeaderTimeout,
		ReadTimeout:       settings.ReadTimeout,
		WriteTimeout:      settings.WriteTimeout,
		IdleTimeout:       settings.IdleTimeout,
		MaxHeaderBytes:    httpMaxHeaderBytes(settings.MaxHeaderBytes),
		ErrorLog:          errLog,
		// "OPTIONS *" goes to the pipeline (and is refused there), not to
		// Go's built-in 200 answer.
		DisableGeneralOptionsHandler: true,
		// Requests with both Content-Length and Transfer-Encoding are
		// refused; see proxy.FramingListener.
		ConnContext: proxy.FramingConnContext,
	}
	admin := &http.Server{
		Handler:           srv.AdminHandler(),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          errLog,
	}
	errc := make(chan error, 3)
	if err := tlsSrv.serve(public, publicLn, srv.WriteError, errc); err != nil { // plain HTTP on publicLn without TLS
		publicLn.Close()
		adminLn.Close()
		return err
	}
	go func() { errc <- admin.Serve(adminLn) }()
	logger.Info("listening", "listener", "public", "addr", publicLn.Addr().String())
	logger.Info("listening", "listener", "admin", "addr", adminLn.Addr().String())
	logger.Info("config loaded", "config_hash", snap.Hash(), "upstreams", len(snap.Upstreams()))
	if hooks != nil && hooks.ready != nil {
		hooks.ready(publicLn.Addr(), adminLn.Addr())
	}

	var serveErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-errc:
			serveErr = err
			break loop
		case <-hup:
			if rl != nil {
				_, _ = rl.reload(ctx, "sighup")
			}
		case <-changes:
			if rl != nil {
				_, _ = rl.reload(ctx, "file")
			}
		case <-tlsSrv.certChanges():
			tlsSrv.reloadCertificate("file")
		}
	}
	logger.Info("shutting down", "timeout", settings.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), settings.ShutdownTimeout)
	defer cancel()
	_ = admin.Shutdown(sctx)
	tlsSrv.shutdown(sctx)
	if err := public.Shutdown(sctx); err != nil {
		_ = public.Close()
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// httpMaxHeaderBytes converts max_header_bytes to http.Server's setting,
// which allows 4096 bytes of slack on top of its value; without the
// adjustment a 4 KiB limit would let 8 KiB through on a new connection. On a
// reused keep-alive connection net/http may have buffered up to 4 KiB more
// before the limit applies, so the limit is exact to within 4 KiB.
func httpMaxHeaderBytes(limit int) int {
	return max(limit-4096, 1)
}

// restartOnly lists the server settings that differ between a and b and
// that a reload cannot apply (they configure the listeners).
func restartOnly(a, b policy.Server) []string {
	var out []string
	add := func(name string, changed bool) {
		if changed {
			out = append(out, name)
		}
	}
	add("listen", a.Listen != b.Listen)
	add("admin_listen", a.AdminListen != b.AdminListen)
	add("max_header_bytes", a.MaxHeaderBytes != b.MaxHeaderBytes)
	add("read_header_timeout", a.ReadHeaderTimeout != b.ReadHeaderTimeout)
	add("read_timeout", a.ReadTimeout != b.ReadTimeout)
	add("write_timeout", a.WriteTimeout != b.WriteTimeout)
	add("idle_timeout", a.IdleTimeout != b.IdleTimeout)
	add("shutdown_timeout", a.ShutdownTimeout != b.ShutdownTimeout)
	add("tls_listen", a.TLSListen != b.TLSListen)
	add("tls", !a.TLS.Equal(b.TLS))
	return out
}
