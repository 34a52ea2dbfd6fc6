package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseConfig feeds arbitrary bytes through the whole pipeline as a
// configuration file. It must never panic, and the snapshot must be non-nil
// exactly when there are no errors.
func FuzzParseConfig(f *testing.F) {
	for _, pattern := range []string{"testdata/*/*.hcl"} {
		files, _ := filepath.Glob(pattern)
		for _, name := range files {
			if src, err := os.ReadFile(name); err == nil {
				f.Add(src)
			}
		}
	}
	f.Add([]byte(fiveMistakes))
	f.Add([]byte(messy))
	// One directory per worker process: inputs run one at a time in a
	// process, and a fresh t.TempDir per input would dominate the cost.
	dir := f.TempDir()
	path := filepath.Join(dir, "fuzz.hcl")
	f.Fuzz(func(t *testing.T, src []byte) {
		if err := os.WriteFile(path, src, 0o600); err != nil {
			t.Fatal(err)
		}
		snap, _, files, diags := LoadSnapshot(path)
		if files == nil {
			t.Fatal("got nil files map")
		}
		if diags.HasErrors() {
			if snap != nil {
				t.Fatalf("got a snapshot with errors:\n%s", diags.Error())
			}
			for _, d := range diags {
				if d.Subject != nil && d.Subject.Filename != path {
					t.Errorf("diagnostic %q points at %q, want %q", d.Summary, d.Subject.Filename, path)
				}
			}
			return
		}
		if snap == nil {
			t.Fatal("got a nil snapshot without errors")
		}
		if _, fd := Format(path, src); fd.HasErrors() {
			t.Errorf("Format refuses a config that loads: %s", fd.Error())
		}
	})
}
