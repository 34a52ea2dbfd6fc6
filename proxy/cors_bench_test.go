package proxy

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// BenchmarkPipelineCORS runs the whole handler as BenchmarkPipeline does:
// "off_path" is a request to a path no cors block matches (the cost every
// other request pays), "allowed" and "disallowed" actual requests on a CORS
// path, and "preflight" an answered preflight.
func BenchmarkPipelineCORS(b *testing.B) {
	snap, err := policy.New(corsTestSpec(b, "http://127.0.0.1:9"))
	if err != nil {
		b.Fatal(err)
	}
	srv := New(Options{Logger: slog.New(slog.DiscardHandler), AccessLog: io.Discard, Transport: stubTransport{}})
	srv.Load(snap, nil)
	withOrigin := func(r *http.Request, origin string) *http.Request {
		r.Header.Set("Origin", origin)
		return r
	}
	preflight := withOrigin(benchRequest("/hr/employees/42", ""), portalOrigin)
	preflight.Method = http.MethodOptions
	preflight.Header.Set("Access-Control-Request-Method", "PUT")
	preflight.Header.Set("Access-Control-Request-Headers", "x-api-key")
	cases := []struct {
		name string
		req  *http.Request
		want int
	}{
		{"off_path", benchRequest("/pub/small", ""), 200},
		{"no_origin", benchRequest("/hr/employees/42", testKey), 200},
		{"allowed", withOrigin(benchRequest("/hr/employees/42", testKey), portalOrigin), 200},
		{"disallowed", withOrigin(benchRequest("/hr/employees/42", testKey), evilOrigin), 200},
		{"preflight", preflight, 204},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			w := &discardWriter{h: http.Header{}}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, c.req)
			if rec.Code != c.want {
				b.Fatalf("got %d, want %d: %s", rec.Code, c.want, rec.Body)
			}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				srv.ServeHTTP(w, c.req)
			}
		})
	}
}
