// Package testenv starts real external components (an OpenLDAP slapd, Pebble,
// Redis and Redis Sentinel, headless Chromium)
// for integration tests. Every component runs as a child process of the
// test, listens on 127.0.0.1 only, keeps its files in the test's temporary
// directory and is stopped by t.Cleanup.
//
// A missing component skips the test on a developer machine and fails it
// in CI (CI=true), so that CI can never go green by skipping.
package testenv

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Need makes sure the executable tool is available. It looks in PATH, in
// /usr/sbin (slapd lives there and /usr/sbin is often not in a non-root
// PATH), then where `go install` puts binaries ($GOBIN and $GOPATH/bin:
// pebble lives there). When the tool is missing it fails the test if the
// environment variable CI is true (CI must never pass by skipping), and
// otherwise skips it with hint, which should say how to install the tool.
func Need(t testing.TB, tool string, hint string) {
	t.Helper()
	if _, err := lookTool(tool); err != nil {
		if inCI() {
			t.Fatalf("%s not found (CI=true: a missing component fails the test): %s", tool, hint)
		}
		t.Skipf("%s not found: %s", tool, hint)
	}
}

// inCI reports whether the environment variable CI is set to a true value
// ("true", "1", ...), as GitHub Actions, GitLab CI and most others do.
func inCI() bool {
	ci, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && ci
}

// lookTool returns the path of tool, from PATH, /usr/sbin or the go
// install directory.
func lookTool(tool string) (string, error) {
	if p, err := exec.LookPath(tool); err == nil {
		return p, nil
	}
	for _, dir := range append([]string{"/usr/sbin"}, goBinDirs()...) {
		p := filepath.Join(dir, tool)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New(tool + ": executable not found in PATH, /usr/sbin or the go install directory")
}

// goBinDirs returns where `go install` puts binaries, as `go env` reports
// them: $GOBIN if set, and the bin directory of each $GOPATH entry.
var goBinDirs = sync.OnceValue(func() []string {
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimRight(string(out), "\r\n"), "\n") // GOBIN's line may be empty
	var dirs []string
	if len(lines) > 0 && lines[0] != "" {
		dirs = append(dirs, lines[0])
	}
	if len(lines) > 1 {
		for _, p := range filepath.SplitList(lines[1]) {
			dirs = append(dirs, filepath.Join(p, "bin"))
		}
	}
	return dirs
})
