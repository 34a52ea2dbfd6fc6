package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testhttp"
	"github.com/gatehouse-dev/gatehouse/proxy/upstream"
)

// TestForward_PlainHTTPGetReusesOneUpstreamConnection runs the real handler:
// GETs through the pipeline take the fast path, share one upstream
// connection, and informational responses reach the client.
func TestForward_PlainHTTPGetReusesOneUpstreamConnection(t *testing.T) {
	if !upstream.FastPathSupported {
		t.Skip("no idle-socket check on this system")
	}
	up := testhttp.NewConnCounter(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		_, _ = io.WriteString(w, "upstream ok")
	})
	p := newTestProxy(t, testSpec(t, up.URL))
	var hints atomic.Int32
	for i := 0; i < 10; i++ {
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
			if code == http.StatusEarlyHints {
				hints.Add(1)
			}
			return nil
		}}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", p.URL+"/hr/employees", nil)
		req.Header.Set("X-API-Key", testKey)
		if res, body := do(t, p.Client(), req); res.StatusCode != 200 || body != "upstream ok" {
			t.Fatalf("request %d: %d %q", i, res.StatusCode, body)
		}
	}
	if c, n := up.Opened.Load(), hints.Load(); c != 1 || n != 10 {
		t.Errorf("upstream saw %d connections, client saw %d early hints; want 1 and 10", c, n)
	}
	var watched, fast int
	for k, tr := range p.srv.upstream.Transports() {
		_, ok := tr.(*upstream.HTTP1Transport)
		if k.Watched {
			watched++
		}
		if ok {
			fast++
		}
		if ok != k.Watched {
			t.Errorf("transport %+v is %T", k, tr)
		}
	}
	if watched == 0 || fast != watched {
		t.Errorf("%d of %d watched transports take the fast path, want all of at least 1", fast, watched)
	}
}

// TestForward_TimeoutOnReusedConnectionIsNotRetried: the upstream has the
// request and is slow; a second copy would double its load and the wait.
func TestForward_TimeoutOnReusedConnectionIsNotRetried(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("slow") != "" {
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
		}
		_, _ = io.WriteString(w, "upstream ok")
	})
	spec := testSpec(t, up.URL)
	spec.Upstreams[0].Timeout = 200 * time.Millisecond
	p := newTestProxy(t, spec)
	key := map[string]string{"X-API-Key": testKey}
	if res, body := p.get(t, "/hr/employees", key); res.StatusCode != 200 {
		t.Fatalf("first: %d %s", res.StatusCode, body)
	}
	if res, body := p.get(t, "/hr/employees?slow=1", key); res.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("slow: %d %s, want 504", res.StatusCode, body)
	}
	if n := len(up.requests()); n != 2 {
		t.Errorf("upstream received %d requests, want 2 (no retry after a timeout)", n)
	}
}
