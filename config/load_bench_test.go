package config

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// writeLargeConfig writes a config with nGrants grants spread over 100
// roles and 20 upstreams, half of them with record filters, as files
// files in a directory (roles spread evenly), and returns the directory.
func writeLargeConfig(tb testing.TB, nGrants, files int) string {
	tb.Helper()
	dir := tb.TempDir()
	var b strings.Builder
	b.WriteString("lookups {\n  department = \"sales\"\n}\n\n")
	for u := range 20 {
		fmt.Fprintf(&b, "upstream \"u%d\" {\n  url    = \"http://127.0.0.1:%d\"\n  prefix = \"/u%d\"\n}\n\n", u, 9000+u, u)
	}
	fmt.Fprintf(&b, "app \"portal\" {\n  api_key_sha256 = %q\n  default_role   = \"r0\"\n}\n\n", strings.Repeat("ab", 32))
	perRole := nGrants / 100
	flush := func(name string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
		b.Reset()
	}
	flush("00-base.hcl")
	for r := range 100 {
		fmt.Fprintf(&b, "role \"r%d\" {\n", r)
		for g := range perRole {
			fmt.Fprintf(&b, "  allow \"u%d\" {\n    paths = [\"/items/%d/*\", \"/things/%d/**\"]\n    verbs = [\"GET\", \"POST\"]\n", (r+g)%20, g, g)
			if g%2 == 0 {
				b.WriteString("    filter = \"record.department == lookup.department && record.level <= 3\"\n")
			}
			b.WriteString("  }\n")
		}
		b.WriteString("}\n\n")
		if (r+1)%(100/files) == 0 {
			flush(fmt.Sprintf("roles-%03d.hcl", r))
		}
	}
	return dir
}

// BenchmarkLoadSnapshot_10000Grants is the reload bar: read, parse,
// validate and compile a config with 10,000 grants (the proxy's swap is an
// atomic pointer store on top), as one 1.3 MB file and as ten. gogc=400 is
// the GC setting the gatehouse binary runs with (cmd/gatehouse defaultGOGC),
// gogc=100 Go's default: a reload allocates about 280 MB, mostly hclsyntax's
// tokens, so the collector's pace shows in the figure.
func BenchmarkLoadSnapshot_10000Grants(b *testing.B) {
	for _, gogc := range []int{400, 100} {
		for _, files := range []int{1, 10} {
			b.Run(fmt.Sprintf("gogc=%d/files=%d", gogc, files), func(b *testing.B) {
				p := writeLargeConfig(b, 10_000, files)
				defer debug.SetGCPercent(debug.SetGCPercent(gogc))
				b.ReportAllocs()
				for b.Loop() {
					snap, _, _, diags := LoadSnapshot(p)
					if diags.HasErrors() || snap == nil {
						b.Fatal(diags)
					}
				}
			})
		}
	}
}

func TestLargeConfigLoads(t *testing.T) {
	p := writeLargeConfig(t, 1000, 4)
	snap, _, _, diags := LoadSnapshot(p)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if n := len(snap.FilteredGrants()); n != 500 {
		t.Errorf("%d filtered grants, want 500", n)
	}
}

// Every filtered grant gets a records plan when the config is compiled;
// grants with the same records path and filter fields share one.
func TestLargeConfigSharesPlans(t *testing.T) {
	p := writeLargeConfig(t, 1000, 4)
	snap, _, _, diags := LoadSnapshot(p)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plans := map[any]bool{}
	for _, g := range snap.FilteredGrants() {
		if g.Plan() == nil {
			t.Fatalf("%v: no plan", g)
		}
		plans[g.Plan()] = true
	}
	if n := len(plans); n != 1 { // one filter text, no records path
		t.Errorf("%d plans for 500 filtered grants, want 1", n)
	}
}
