package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// stopSignals turns SIGINT and SIGTERM into the two steps of a shutdown:
// ctx ends at the first signal (stop serving, after the shutdown delay),
// hurry closes at the second (skip what is left of the delay). release
// restores the default actions; call it when serving is over.
func stopSignals() (ctx context.Context, hurry <-chan struct{}, release func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	h := make(chan struct{})
	done := make(chan struct{})
	go func() {
		for _, step := range []func(){cancel, func() { close(h) }} {
			select {
			case <-sigs:
				step()
			case <-done:
				return
			}
		}
	}()
	return ctx, h, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

// drain runs the shutdown delay: /readyz already answers 503 (srv.Drain),
// so that load balancers take this instance out of rotation, while every
// listener keeps serving as before. It returns after delay, at once when
// hurry closes (a second SIGTERM), or with the error of a listener that
// stopped serving.
func drain(logger *slog.Logger, delay time.Duration, hurry <-chan struct{}, errs <-chan error) error {
	if delay <= 0 {
		return nil
	}
	logger.Info("draining", "delay", delay.String())
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-hurry:
		logger.Info("drain delay cut short by a second signal")
		return nil
	case err := <-errs:
		return err
	}
}
