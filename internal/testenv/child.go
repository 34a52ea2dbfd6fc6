package testenv

import (
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a component's server process (slapd, redis-server, Pebble, …),
// run in the foreground as a child of the test: its PID is the Cmd's own
// (no pidfile race; only processes started here are ever signalled, by
// that PID), an early exit (a port taken, a config error) is noticed at
// once through Wait instead of at the readiness deadline, its output goes
// to a tail buffer printed on failure, and on Linux it gets SIGKILL if the
// test binary dies before its cleanup runs.
type child struct {
	cmd    *exec.Cmd
	log    *tailBuffer
	exited chan struct{} // closed once cmd has been waited for

	once    sync.Once
	stopErr error
}

// newChild prepares cmd to run as a child whose output goes to log (a new
// buffer when nil) and, when tee is not nil, to tee as well.
func newChild(cmd *exec.Cmd, log *tailBuffer, tee io.Writer) *child {
	if log == nil {
		log = &tailBuffer{max: 256 << 10}
	}
	c := &child{cmd: cmd, log: log, exited: make(chan struct{})}
	var out io.Writer = log
	if tee != nil {
		out = io.MultiWriter(log, tee)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = childProcAttr()
	cmd.WaitDelay = time.Second // no grandchildren hold the pipe; bound it anyway
	return c
}

// startChild starts path with args as a child logging to log and waits,
// up to timeout, until probe succeeds. The child is returned even with an
// error, so that the caller can stop it.
func startChild(path string, args []string, log *tailBuffer, timeout time.Duration, probe func() error) (*child, error) {
	c := newChild(exec.Command(path, args...), log, nil)
	if err := c.start(); err != nil {
		return c, err
	}
	return c, c.waitReady(timeout, probe)
}

func (c *child) name() string { return filepath.Base(c.cmd.Path) }

func (c *child) start() error {
	if err := c.cmd.Start(); err != nil {
		close(c.exited)
		return err
	}
	go func() {
		_ = c.cmd.Wait()
		close(c.exited)
	}()
	return nil
}

// waitReady calls probe every 20 ms until it succeeds, c exits (exitErr),
// or timeout passes.
func (c *child) waitReady(timeout time.Duration, probe func() error) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := probe()
		if err == nil {
			return nil
		}
		select {
		case <-c.exited:
			return c.exitErr()
		case <-deadline.C:
			return fmt.Errorf("not ready after %s: %v", timeout, err)
		case <-tick.C:
		}
	}
}

// portInUse reports whether c's log says a port was taken.
func (c *child) portInUse() bool {
	return strings.Contains(strings.ToLower(c.log.String()), "address already in use")
}

// exitErr reports an exit during startup, as errPortInUse when the log
// says a port was taken (so that the caller can retry with other ports).
func (c *child) exitErr() error {
	if c.portInUse() {
		return fmt.Errorf("%w: %s exited: %s", errPortInUse, c.name(), c.cmd.ProcessState)
	}
	return fmt.Errorf("%s exited during startup: %s", c.name(), c.cmd.ProcessState)
}

// stop sends sig (SIGTERM to stop it, SIGKILL to crash it), then SIGKILL
// if it has not exited after timeout, and waits for it, within bounds. It
// is idempotent; a nil child stops nothing.
func (c *child) stop(sig syscall.Signal, timeout time.Duration) error {
	if c == nil {
		return nil
	}
	c.once.Do(func() {
		select {
		case <-c.exited:
			return
		default:
		}
		_ = c.cmd.Process.Signal(sig)
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-c.exited:
			return
		case <-t.C:
		}
		_ = c.cmd.Process.Kill()
		t.Reset(timeout)
		select {
		case <-c.exited:
			c.stopErr = fmt.Errorf("%s pid %d ignored %s for %s; killed", c.name(), c.cmd.Process.Pid, sig, timeout)
		case <-t.C:
			c.stopErr = fmt.Errorf("%s pid %d did not exit after SIGKILL", c.name(), c.cmd.Process.Pid)
		}
	})
	return c.stopErr
}
