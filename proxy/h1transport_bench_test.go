package proxy

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkUpstreamTransport compares http.Transport with h1Transport on
// GETs of a 20-byte body from a loopback upstream, 8 requests at a time.
// The upstream runs in the same process, so this measures both sides.
func BenchmarkUpstreamTransport(b *testing.B) {
	if !h1Supported {
		b.Skip("no h1Transport on this system")
	}
	up := newConnCounter(b, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello from upstream\n")
	})
	host := strings.TrimPrefix(up.URL, "http://")
	for _, tc := range []struct {
		name string
		rt   pooledTransport
	}{
		{"http.Transport", testFallback()},
		{"h1Transport", newH1Transport(testFallback(), host)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			defer tc.rt.CloseIdleConnections()
			b.SetParallelism(4) // 4 × GOMAXPROCS clients
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, 64)
				for pb.Next() {
					req, _ := http.NewRequest("GET", up.URL+"/small", nil)
					res, err := tc.rt.RoundTrip(req)
					if err != nil {
						b.Error(err)
						return
					}
					for {
						if _, err := res.Body.Read(buf); err != nil {
							break
						}
					}
					res.Body.Close()
				}
			})
		})
	}
}
