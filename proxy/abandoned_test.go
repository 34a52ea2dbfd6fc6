package proxy

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestAbandonedLog_Window: abandonedBurst lines per window pass, the rest
// are counted into one summary, written when the window ends; a new window
// lets lines through again.
func TestAbandonedLog_Window(t *testing.T) {
	buf := &syncBuffer{}
	a := &abandonedLog{log: newAccessLog(buf, false)}
	t0 := time.Now()
	passed := 0
	for i := range 50 {
		if a.allow(t0.Add(time.Duration(i) * time.Millisecond)) {
			passed++
		}
	}
	if passed != abandonedBurst {
		t.Errorf("passed %d of 50 in one window, want %d", passed, abandonedBurst)
	}
	if !a.allow(t0.Add(abandonedWindow + time.Millisecond)) {
		t.Error("first abandoned request of the next window held back")
	}
	a.close()
	var sum map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(buf.String())), &sum); err != nil {
		t.Fatalf("summary %q: %v", buf.String(), err)
	}
	if sum["msg"] != "abandoned requests not logged" || sum["count"] != float64(50-abandonedBurst) || sum["level"] != "WARN" {
		t.Errorf("summary %v, want count %d", sum, 50-abandonedBurst)
	}
}

// TestServer_AbandonedRequestsBounded: HTTP/2 requests whose client is gone
// before the pipeline answers (canceled context) and that reached no upstream get
// at most abandonedBurst access lines, then one summary with the count
// (issue 18, point 18(b)); completed requests are logged as before, and
// the upstream sees none of the abandoned ones.
func TestServer_AbandonedRequestsBounded(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	const n = 200
	for i := range n {
		path := "/hr/employees" // allowed: would be forwarded
		if i%2 == 1 {
			path = "/hr/nothing" // refused before forwarding
		}
		r := httptest.NewRequest("GET", path, nil).WithContext(ctx)
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
		r.Header.Set("X-API-Key", testKey)
		p.srv.ServeHTTP(httptest.NewRecorder(), r)
	}
	// Over HTTP/1 a canceled context may be a half-closed connection whose
	// client still reads the answer: always logged.
	const h1 = 20
	for range h1 {
		r := httptest.NewRequest("GET", "/hr/nothing", nil).WithContext(ctx)
		r.Header.Set("X-API-Key", testKey)
		p.srv.ServeHTTP(httptest.NewRecorder(), r)
	}
	if got := len(up.requests()); got != 0 {
		t.Errorf("upstream got %d abandoned requests, want 0", got)
	}
	res, _ := p.get(t, "/hr/employees", map[string]string{"X-API-Key": testKey})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("completed request: got %d", res.StatusCode)
	}
	p.srv.Close()
	recs := p.log.records(t)
	abandoned := 0
	for _, r := range recs {
		if r["abandoned"] == true {
			abandoned++
		}
	}
	if abandoned != abandonedBurst || len(recs) != abandonedBurst+h1+1 {
		t.Errorf("got %d access lines (%d abandoned), want %d abandoned, %d HTTP/1 ones and the completed one", len(recs), abandoned, abandonedBurst, h1)
	}
	var count float64
	for _, line := range strings.Split(p.log.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "abandoned requests not logged" {
			count += m["count"].(float64)
		}
	}
	if count != n-abandonedBurst {
		t.Errorf("summaries count %v abandoned requests, want %d", count, n-abandonedBurst)
	}
}
