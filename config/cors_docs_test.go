package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestDocs_CORSExamplesLoad loads and compiles every hcl example in
// docs/cors.md on its own and checks that it is in canonical format.
func TestDocs_CORSExamplesLoad(t *testing.T) {
	doc, err := os.ReadFile("../docs/cors.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```hcl\n(.*?)```").FindAllSubmatch(doc, -1)
	if len(blocks) == 0 {
		t.Fatal("docs/cors.md has no hcl example")
	}
	dir := t.TempDir()
	for i, b := range blocks {
		path := filepath.Join(dir, fmt.Sprintf("example%d.hcl", i))
		if err := os.WriteFile(path, b[1], 0o600); err != nil {
			t.Fatal(err)
		}
		if snap, _, _, diags := LoadSnapshot(path); len(diags) > 0 || snap == nil {
			t.Errorf("example %d:\n%s\n%s", i, b[1], diags.Error())
		}
		if out, diags := Format(path, b[1]); diags.HasErrors() || string(out) != string(b[1]) {
			t.Errorf("example %d is not in canonical format; gatehouse fmt gives:\n%s", i, out)
		}
	}
}
