package proxy

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// stubTransport answers every request with a small canned response, so the
// benchmarks measure the proxy's own work, not the network.
type stubTransport struct{}

// RoundTripWithFields takes gatehouse's header fields beside the request,
// as upstream.HTTP1Transport does for most requests, and ignores them:
// nothing is written here.
func (s stubTransport) RoundTripWithFields(r *http.Request, _ [][2]string) (*http.Response, error) {
	return s.RoundTrip(r)
}

func (stubTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode:    200,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"text/plain"}, "Content-Length": {"12"}},
		Body:          io.NopCloser(strings.NewReader("upstream ok\n")),
		ContentLength: 12,
		Request:       r,
	}, nil
}

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

func benchRequest(path, key string) *http.Request {
	r := httptest.NewRequest("GET", path, nil)
	r.RemoteAddr = "127.0.0.1:40000"
	r.Header.Set("User-Agent", "wrk")
	r.Header.Set("Accept", "*/*")
	if key != "" {
		r.Header.Set("X-API-Key", key)
	}
	return r
}

// padded adds the padding header bench/run.sh sends with every request.
func padded(r *http.Request) *http.Request {
	r.Header.Set("X-Bench-Padding", strings.Repeat("p", 380))
	return r
}

// BenchmarkPipeline runs the whole handler (every stage, ReverseProxy and
// the access log) against a stub transport; "baseline" is a bare
// httputil.ReverseProxy on the same transport, for comparison.
func BenchmarkPipeline(b *testing.B) {
	spec := testSpec(b, "http://127.0.0.1:9")
	snap, err := policy.New(spec)
	if err != nil {
		b.Fatal(err)
	}
	srv := New(Options{Logger: slog.New(slog.DiscardHandler), AccessLog: io.Discard, Transport: stubTransport{}})
	srv.Load(snap, nil)
	target, _ := url.Parse("http://127.0.0.1:9")
	base := &httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.SetXForwarded() },
		Transport:  stubTransport{},
		BufferPool: &bufferPool{},
	}
	cases := []struct {
		name string
		h    http.Handler
		req  *http.Request
		want int
	}{
		{"baseline", base, benchRequest("/pub/small", ""), 200},
		{"public", srv, benchRequest("/pub/small", ""), 200},
		{"apikey_allow", srv, benchRequest("/hr/employees/42", testKey), 200},
		{"apikey_deny", srv, benchRequest("/hr/employees/42/salary", testKey), 403},
		{"no_key", srv, benchRequest("/hr/employees/42", ""), 401},
		// With bench/run.sh's client headers: one more, a long one.
		{"public_bench_headers", srv, padded(benchRequest("/pub/small", testKey)), 200},
		{"apikey_allow_bench_headers", srv, padded(benchRequest("/hr/employees/42", testKey)), 200},
	}
	// The same API-key request on an app with a rate_limit (memory
	// budgets, never refused within the benchmark).
	limited := testSpec(b, "http://127.0.0.1:9")
	limited.Apps[0].RateLimit = &policy.RateLimitSpec{Requests: 1_000_000, Period: time.Second, Burst: 1_000_000}
	lsnap, err := policy.New(limited)
	if err != nil {
		b.Fatal(err)
	}
	lsrv := New(Options{Logger: slog.New(slog.DiscardHandler), AccessLog: io.Discard, Transport: stubTransport{}})
	lsrv.Load(lsnap, nil)
	cases = append(cases, struct {
		name string
		h    http.Handler
		req  *http.Request
		want int
	}{"apikey_allow_rate_limited", lsrv, benchRequest("/hr/employees/42", testKey), 200})
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			w := &discardWriter{h: http.Header{}}
			rec := httptest.NewRecorder()
			c.h.ServeHTTP(rec, c.req)
			if rec.Code != c.want {
				b.Fatalf("got %d, want %d: %s", rec.Code, c.want, rec.Body)
			}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				c.h.ServeHTTP(w, c.req)
			}
		})
	}
}
