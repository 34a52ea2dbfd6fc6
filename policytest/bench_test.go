package policytest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/policytest"
)

// writeBenchConfig writes a configuration of roles×grants grants (roles
// roles of grants allow grants each, one user per role) and a test file of
// tests tests, all passing, and returns the directory.
func writeBenchConfig(tb testing.TB, dir string, roles, grants, tests int) {
	tb.Helper()
	var c strings.Builder
	line := 1
	w := func(format string, a ...any) {
		fmt.Fprintf(&c, format+"\n", a...)
		line++
	}
	w(`server {`)
	w(`  listen = "127.0.0.1:8080"`)
	w(`}`)
	w(`sessions {`)
	w(`  signing_key = "%s"`, strings.Repeat("s", 48))
	w(`}`)
	w(`upstream "api" {`)
	w(`  url    = "http://127.0.0.1:9000"`)
	w(`  prefix = "/api"`)
	w(`}`)
	w(`app "bench" {`)
	w(`  api_key_sha256 = "%s"`, strings.Repeat("ab", 32))
	w(`}`)
	grantLine := make([][]int, roles)
	for i := range roles {
		w(`role "r%d" {`, i)
		grantLine[i] = make([]int, grants)
		for j := range grants {
			grantLine[i][j] = line
			w(`  allow "api" {`)
			w(`    paths = ["/r%d/g%d/*", "/r%d/g%d"]`, i, j, i, j)
			w(`    verbs = ["GET", "HEAD"]`)
			w(`  }`)
		}
		w(`}`)
		w(`user "u%d" {`, i)
		w(`  roles = { bench = "r%d" }`, i)
		w(`}`)
	}
	var t strings.Builder
	for k := range tests {
		i, j := k%roles, (k*7)%grants
		method, expect := "GET", fmt.Sprintf("status = 200\n    grant  = \"gen.hcl:%d\"", grantLine[i][j])
		if k%10 == 9 {
			method, expect = "DELETE", `decision = "deny"`+"\n    reason   = \"no_matching_grant\""
		}
		fmt.Fprintf(&t, "test %q {\n  request {\n    app    = \"bench\"\n    user   = \"u%d\"\n    method = %q\n    target = \"/api/r%d/g%d/%d?x=1\"\n  }\n  expect {\n    %s\n  }\n}\n\n",
			fmt.Sprintf("test %d", k), i, method, i, j, k, expect)
	}
	if err := os.WriteFile(filepath.Join(dir, "gen.hcl"), []byte(c.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gen_test.hcl"), []byte(t.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// loadAndRun is what `gatehouse test` does: load and compile the
// configuration, load and check the tests, run them. It returns how many
// failed.
func loadAndRun(tb testing.TB, dir string) (n, failed int) {
	snap, _, _, diags := config.LoadSnapshot(dir)
	if diags.HasErrors() {
		tb.Fatal(diags)
	}
	names, diags := config.TestFiles(dir)
	if diags.HasErrors() {
		tb.Fatal(diags)
	}
	tests, _, diags := config.LoadTests(names)
	diags = append(diags, policytest.Check(snap, tests)...)
	if diags.HasErrors() {
		tb.Fatal(diags)
	}
	for _, t := range tests {
		if r := policytest.Run(snap, t); !r.Passed() {
			failed++
			tb.Log(r.Failures)
		}
	}
	return len(tests), failed
}

// BenchmarkGatehouseTest is the bar of issue 22: 1,000 tests over a
// 10,000-grant configuration, the whole run (load, compile, load the
// tests, run them) per op. Run:
//
//	go test -run '^$' -bench GatehouseTest -benchtime 5x ./policytest/
func BenchmarkGatehouseTest(b *testing.B) {
	dir := b.TempDir()
	writeBenchConfig(b, dir, 100, 100, 1000)
	b.ReportAllocs()
	for b.Loop() {
		n, failed := loadAndRun(b, dir)
		if n != 1000 || failed != 0 {
			b.Fatalf("%d tests, %d failed", n, failed)
		}
	}
}

// BenchmarkGatehouseTestRun is the run alone (tests already loaded), per
// test.
func BenchmarkGatehouseTestRun(b *testing.B) {
	dir := b.TempDir()
	writeBenchConfig(b, dir, 100, 100, 1000)
	snap, _, _, diags := config.LoadSnapshot(dir)
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	tests, _, diags := config.LoadTests([]string{filepath.Join(dir, "gen_test.hcl")})
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if r := policytest.Run(snap, tests[i%len(tests)]); !r.Passed() {
			b.Fatal(r.Failures)
		}
		i++
	}
}

// TestBenchConfigPasses keeps the benchmark's generator honest on a small
// scale: its tests pass, and a wrong grant line fails.
func TestBenchConfigPasses(t *testing.T) {
	dir := t.TempDir()
	writeBenchConfig(t, dir, 3, 4, 30)
	if n, failed := loadAndRun(t, dir); n != 30 || failed != 0 {
		t.Fatalf("%d tests, %d failed; want 30, 0", n, failed)
	}
}

// TestWriteBenchConfig writes the benchmark's configuration and tests to
// $GATEHOUSE_BENCH_DIR, to time the binary on them:
//
//	GATEHOUSE_BENCH_DIR=/tmp/gh-bench go test -run WriteBenchConfig ./policytest/
//	time gatehouse test --config /tmp/gh-bench
func TestWriteBenchConfig(t *testing.T) {
	dir := os.Getenv("GATEHOUSE_BENCH_DIR")
	if dir == "" {
		t.Skip("GATEHOUSE_BENCH_DIR is not set")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeBenchConfig(t, dir, 100, 100, 1000)
}
