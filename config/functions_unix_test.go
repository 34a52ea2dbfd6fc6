//go:build unix

package config

import (
	"path/filepath"
	"syscall"
	"testing"
)

// TestFunctions_FileFIFO checks that file() refuses a FIFO instead of
// blocking the load until a writer appears.
func TestFunctions_FileFIFO(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if _, errs := loadLookup(t, dir, `file("fifo")`); errs != summaryUnreadableFile {
		t.Errorf("got errors %q, want %q", errs, summaryUnreadableFile)
	}
}
