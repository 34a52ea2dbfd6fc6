//go:build unix

package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chromiumHint tells a developer how to get Chromium; it is the Skip/Fatal text.
const chromiumHint = "apt-get install chromium; ./scripts/test.sh installs it"

// Chromium returns the path of a Chromium binary ("chromium", else
// "chromium-browser"). When there is none it fails the test under CI=true
// and skips it otherwise (see Need).
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := lookTool(name); err == nil {
			return p
		}
	}
	Need(t, "chromium", chromiumHint)
	return "" // not reached: Need failed or skipped the test
}

// DumpDOMOptions configure DumpDOM.
type DumpDOMOptions struct {
	// HostResolverRules is passed as --host-resolver-rules. "MAP * 127.0.0.1"
	// makes every host name resolve to loopback, so that pages can use
	// names such as app.example.test while all traffic stays on 127.0.0.1.
	HostResolverRules string
	// VirtualTimeBudget is how much virtual time the page gets before the
	// DOM is dumped; virtual time does not advance while network requests
	// are pending. Default 30s.
	VirtualTimeBudget time.Duration
	// Timeout bounds the real time of the whole run. Default 60s.
	Timeout time.Duration
}

// DumpDOM loads url in a fresh headless Chromium (its own temporary
// profile, no sandbox, no GPU, no background networking) and returns the
// DOM as serialized after the page's scripts ran (--dump-dom with
// --virtual-time-budget). Chromium runs in its own process group, which is
// killed, by its id, when the run ends or times out; a run that times out
// or fails fails the test with the end of Chromium's stderr.
func DumpDOM(t testing.TB, url string, opts DumpDOMOptions) string {
	t.Helper()
	bin := Chromium(t)
	if opts.VirtualTimeBudget <= 0 {
		opts.VirtualTimeBudget = 30 * time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	dir := t.TempDir()
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-quic", "--no-first-run", "--no-default-browser-check",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--disable-default-apps", "--metrics-recording-only",
		"--user-data-dir=" + filepath.Join(dir, "profile"),
		"--virtual-time-budget=" + strconv.FormatInt(opts.VirtualTimeBudget.Milliseconds(), 10),
	}
	if opts.HostResolverRules != "" {
		args = append(args, "--host-resolver-rules="+opts.HostResolverRules)
	}
	args = append(args, "--dump-dom", url)
	cmd := exec.Command(bin, args...)
	// Keep Chromium's files (NSS database, caches) out of the real home.
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_CACHE_HOME="+dir)
	var stdout strings.Builder
	stderr := &tailBuffer{max: 8 << 10}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	cmd.SysProcAttr = childProcAttr()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true // renderer, GPU and network processes join its group
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(opts.Timeout)
	defer timer.Stop()
	var err error
	select {
	case err = <-done:
	case <-timer.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
		err = fmt.Errorf("no result within %s; killed process group %d", opts.Timeout, pgid)
	}
	// Helpers that outlived the browser process (there should be none).
	if kerr := syscall.Kill(-pgid, syscall.SIGKILL); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
		t.Logf("kill chromium process group %d: %v", pgid, kerr)
	}
	if err != nil {
		t.Fatalf("chromium %s: %v\nstderr (end):\n%s", url, err, stderr.String())
	}
	return stdout.String()
}
