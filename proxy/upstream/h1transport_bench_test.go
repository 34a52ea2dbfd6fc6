package upstream

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testhttp"
)

// BenchmarkUpstreamTransport compares http.Transport with HTTP1Transport on
// GETs of a 20-byte body from a loopback upstream, 8 requests at a time.
// The upstream runs in the same process, so this measures both sides.
func BenchmarkUpstreamTransport(b *testing.B) {
	if !FastPathSupported {
		b.Skip("no HTTP1Transport on this system")
	}
	up := testhttp.NewConnCounter(b, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello from upstream\n")
	})
	host := strings.TrimPrefix(up.URL, "http://")
	for _, tc := range []struct {
		name string
		rt   Transport
	}{
		{"http.Transport", testFallback()},
		{"h1Transport", newHTTP1Transport(testFallback(), host)},
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
