package policy_test

import (
	"fmt"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// corsSnapshot has n cors rules "/api/r<i>/**" with one exact and one
// wildcard origin, plus "/api/r<i>/items/*" for every tenth i.
func corsSnapshot(tb testing.TB, n int) *policy.Snapshot {
	tb.Helper()
	spec := policy.Spec{
		Upstreams: []policy.UpstreamSpec{
			{Name: "api", URL: mustURL(tb, "http://api.internal"), Prefix: "/api", Active: true},
		},
	}
	for i := range n {
		spec.CORS = append(spec.CORS, corsSpec(tb, fmt.Sprintf("/api/r%d/**", i), fmt.Sprintf("https://app%d.example.com", i), "https://*.tenants.example.com"))
		if i%10 == 0 {
			spec.CORS = append(spec.CORS, corsSpec(tb, fmt.Sprintf("/api/r%d/items/*", i), "https://items.example.com"))
		}
	}
	return mustNew(tb, spec)
}

func BenchmarkCORS(b *testing.B) {
	none := mustNew(b, hrSpec(b))
	snap := corsSnapshot(b, 100)
	for _, bc := range []struct {
		name string
		snap *policy.Snapshot
		path string
	}{
		{"no_rules", none, "/hr/employees/7"},
		{"no_match", snap, "/other/x/y/z"},
		{"match_dstar", snap, "/api/r57/a/b/c"},
		{"match_specific", snap, "/api/r50/items/7"},
	} {
		p := mustPath(b, bc.path)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = bc.snap.CORS(p)
			}
		})
	}
}

func BenchmarkAllowOrigin(b *testing.B) {
	snap := corsSnapshot(b, 10)
	r := snap.CORS(mustPath(b, "/api/r3/x"))
	for _, bc := range []struct{ name, origin string }{
		{"exact", "https://app3.example.com"},
		{"wildcard", "https://acme.tenants.example.com"},
		{"lookalike", "https://acme.tenants.example.com.evil.net"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = r.AllowOrigin(bc.origin)
			}
		})
	}
}
