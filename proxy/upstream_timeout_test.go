package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestForward_TimeoutStartsAfterTheRequestIsWritten sends a body slower
// than the upstream timeout; the upstream answers at once, so the request
// must succeed: the timeout is about the upstream, not the client.
func TestForward_TimeoutStartsAfterTheRequestIsWritten(t *testing.T) {
	up := newUpstream(t, nil)
	spec := testSpec(t, up.URL)
	spec.Upstreams[0].Timeout = 200 * time.Millisecond
	p := newTestProxy(t, spec)
	pr, pw := io.Pipe()
	go func() {
		_, _ = io.WriteString(pw, "slow ")
		time.Sleep(600 * time.Millisecond) // a slow client, not synchronization
		_, _ = io.WriteString(pw, "body")
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", p.URL+"/hr/employees", pr)
	req.Header.Set("X-API-Key", testAdminKey)
	res, body := do(t, p.Client(), req)
	if res.StatusCode != 200 {
		t.Fatalf("got %d %s, want 200", res.StatusCode, body)
	}
	if got := up.last(t).Body; got != "slow body" {
		t.Errorf("upstream body %q, want %q", got, "slow body")
	}
}

// TestForward_KeepAliveConnectionIsNotTimedOutWhileIdle checks that an idle
// pooled upstream connection is not counted as waiting, and that the same
// connection serves the next request after a pause longer than the timeout.
func TestForward_KeepAliveConnectionIsNotTimedOutWhileIdle(t *testing.T) {
	up := newUpstream(t, nil)
	spec := testSpec(t, up.URL)
	spec.Upstreams[0].Timeout = 150 * time.Millisecond
	p := newTestProxy(t, spec)
	for i := 0; i < 2; i++ {
		if res, body := p.get(t, "/hr/employees", map[string]string{"X-API-Key": testKey}); res.StatusCode != 200 {
			t.Fatalf("request %d: got %d %s", i, res.StatusCode, body)
		}
		if i == 0 {
			time.Sleep(400 * time.Millisecond) // idle longer than the timeout
		}
	}
}

// TestWebSocket_TunnelOutlivesUpstreamTimeout: after a 101 the connection is
// a tunnel; a quiet upstream must not be cut by the upstream timeout.
func TestWebSocket_TunnelOutlivesUpstreamTimeout(t *testing.T) {
	// A quiet upstream: it answers later than the upstream timeout.
	up := newUpstream(t, echoTunnel("late:", 500*time.Millisecond))
	spec := testSpec(t, up.URL)
	spec.Upstreams[0].Timeout = 150 * time.Millisecond
	p := newTestProxy(t, spec)
	c, err := net.DialTimeout("tcp", p.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(c, "GET /hr/employees/ws HTTP/1.1\r\nHost: x\r\nX-API-Key: "+testKey+"\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != 101 {
		t.Fatalf("got %v %v, want 101", res, err)
	}
	_, _ = io.WriteString(c, "ping\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "late:ping\n" {
		t.Fatalf("tunnel: got %q, %v; want late:ping", line, err)
	}
}
