package upstream

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testhttp"
)

// testH1 is an HTTP1Transport to an upstream that counts its dials, with a
// plain http.Transport as fallback.
type testH1 struct {
	*HTTP1Transport
	dials atomic.Int32
}

// newTestH1 returns an HTTP1Transport for the upstream at base ("http://host").
func newTestH1(t *testing.T, base string) *testH1 {
	t.Helper()
	if !FastPathSupported {
		t.Skip("no idle-socket check on this system: http.Transport carries everything")
	}
	host, ok := strings.CutPrefix(base, "http://")
	if !ok {
		t.Fatalf("newTestH1(%q): want an http:// URL", base)
	}
	h := &testH1{HTTP1Transport: newHTTP1Transport(testFallback(), host)}
	dial := h.dial
	h.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		h.dials.Add(1)
		c, err := dial(ctx, network, addr)
		if err == nil { // no test waits on a connection for ever
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		}
		return c, err
	}
	t.Cleanup(h.CloseIdleConnections)
	return h
}

// testFallback is an http.Transport configured as Pool's (pool.go)
// where it matters to HTTP1Transport.
func testFallback() *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute,
		MaxResponseHeaderBytes: maxResponseHeaderBytes, DisableCompression: true}
}

// do sends a request and reads the whole response.
func (h *testH1) do(t *testing.T, ctx context.Context, method, url string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, url, err)
	}
	return res, string(b), nil
}

// rawUpstream is a loopback TCP server whose connections the test scripts
// byte by byte, for upstreams that misbehave in ways net/http will not.
type rawUpstream struct {
	ln    net.Listener
	conns chan net.Conn
}

func newRawUpstream(t *testing.T) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln, conns: make(chan net.Conn, 16)}
	var mu sync.Mutex
	var all []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(u.conns)
				return
			}
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			mu.Lock()
			all = append(all, c)
			mu.Unlock()
			u.conns <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range all {
			c.Close()
		}
	})
	return u
}

func (u *rawUpstream) url() string { return "http://" + u.ln.Addr().String() }

// next returns the next accepted connection, with a reader for requests.
func (u *rawUpstream) next(t *testing.T) (net.Conn, *bufio.Reader) {
	select {
	case c := <-u.conns:
		return c, bufio.NewReader(c)
	case <-time.After(5 * time.Second):
		t.Error("upstream: no connection within 5 s")
		return nil, nil
	}
}

// readRequest reads one request and reports whether there was one.
func readRequest(br *bufio.Reader) bool {
	req, err := http.ReadRequest(br)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, req.Body)
	return true
}

func okResponse(body string) string {
	return "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// waitUntil polls cond every 5 ms for up to 5 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5 s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pooledQuiet reports connQuiet of the only pooled connection.
func (h *testH1) pooledQuiet(t *testing.T) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.idle) != 1 {
		t.Fatalf("%d pooled connections, want 1", len(h.idle))
	}
	return connQuiet(h.idle[0].raw)
}

func TestH1Transport_ConnectionReuse(t *testing.T) {
	up := testhttp.NewConnCounter(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.WriteHeader(http.StatusNotModified)
		case "/chunked":
			w.Header().Set("Trailer", "X-Sum")
			_, _ = io.WriteString(w, "part one, ")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "part two")
			w.Header().Set("X-Sum", "42")
		case "/empty":
			w.Header().Set("Content-Length", "0")
		default:
			_, _ = io.WriteString(w, r.Method+" "+r.URL.Path)
		}
	})
	h := newTestH1(t, up.URL)

	for round := 0; round < 3; round++ {
		for _, tc := range []struct {
			method, path string
			status       int
			body         string
		}{
			{"GET", "/a", 200, "GET /a"},
			{"HEAD", "/a", 200, ""},
			{"OPTIONS", "/a", 200, "OPTIONS /a"},
			{"GET", "/204", 204, ""},
			{"GET", "/304", 304, ""},
			{"GET", "/chunked", 200, "part one, part two"},
			{"GET", "/empty", 200, ""},
		} {
			res, body, err := h.do(t, context.Background(), tc.method, up.URL+tc.path)
			if err != nil {
				t.Fatalf("%s %s: %v", tc.method, tc.path, err)
			}
			if res.StatusCode != tc.status || body != tc.body {
				t.Errorf("%s %s: got %d %q, want %d %q", tc.method, tc.path, res.StatusCode, body, tc.status, tc.body)
			}
			if tc.path == "/chunked" && res.Trailer.Get("X-Sum") != "42" {
				t.Errorf("chunked: trailer %v, want X-Sum: 42", res.Trailer)
			}
		}
	}
	// Every response but HEAD, 204 and 304 (no body by method or status:
	// never reused, see bodiless) leaves the connection for the next
	// request: one connection, plus one after each of those 3 × 3.
	if d, c, n := h.dials.Load(), up.Opened.Load(), h.idleCount(); d != 10 || c != 10 || n != 1 {
		t.Errorf("21 responses: %d dials, upstream saw %d connections, %d pooled; want 10, 10, 1", d, c, n)
	}
}

func TestH1Transport_OtherRequestsGoToFallback(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+string(b))
	}))
	t.Cleanup(up.Close)
	h := newTestH1(t, up.URL)
	for _, tc := range []struct {
		name string
		req  func() *http.Request
		want string
	}{
		{"POST with body", func() *http.Request {
			r, _ := http.NewRequest("POST", up.URL, strings.NewReader("data"))
			return r
		}, "POST data"},
		{"bodyless DELETE", func() *http.Request {
			r, _ := http.NewRequest("DELETE", up.URL, nil)
			return r
		}, "DELETE "},
		{"GET asking to close", func() *http.Request {
			r, _ := http.NewRequest("GET", up.URL, nil)
			r.Close = true
			return r
		}, "GET "},
		{"GET for another host", func() *http.Request {
			r, _ := http.NewRequest("GET", strings.Replace(up.URL, "127.0.0.1", "localhost", 1), nil)
			return r
		}, "GET "},
	} {
		res, err := h.RoundTrip(tc.req())
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(b) != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, b, tc.want)
		}
	}
	if d := h.dials.Load(); d != 0 {
		t.Errorf("the fast path dialed %d times, want 0", d)
	}
}

func TestH1Transport_InvalidHeaderIsNotSent(t *testing.T) {
	up := newRawUpstream(t)
	h := newTestH1(t, up.url())
	go func() { // a connection, if one is made, gets no answer but a close
		for c := range up.conns {
			c.Close()
		}
	}()
	for _, hdr := range []http.Header{
		{"X-Bad": {"a\r\nX-Injected: 1"}},
		{"X-Bad": {"a\x00b"}},
		{"Bad Name": {"v"}},
	} {
		req, _ := http.NewRequest("GET", up.url(), nil)
		req.Header = hdr
		if _, err := h.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "invalid header field") {
			t.Errorf("%v: err %v, want an invalid header field error", hdr, err)
		}
	}
	if d := h.dials.Load(); d != 0 {
		t.Errorf("%d dials, want 0: nothing may be sent", d)
	}
}

func TestH1Transport_AbandonedBodyClosesConnection(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, big)
	}))
	t.Cleanup(up.Close)
	h := newTestH1(t, up.URL)
	req, _ := http.NewRequest("GET", up.URL, nil)
	res, err := h.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(res.Body, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	res.Body.Close() // must not read the remaining megabyte, nor pool the connection
	if n := h.idleCount(); n != 0 {
		t.Fatalf("%d pooled after an abandoned body, want 0", n)
	}
	if _, body, err := h.do(t, context.Background(), "GET", up.URL); err != nil || body != big {
		t.Fatalf("next request: %d bytes, %v", len(body), err)
	}
	if d := h.dials.Load(); d != 2 {
		t.Errorf("%d dials, want 2", d)
	}
}

// TestH1Transport_RetriesWhenUpstreamClosesIdleConnection: the upstream
// reads the second request on a kept-alive connection and closes it without
// a byte of answer (its idle timeout raced the request). A GET is replayed
// on a new connection, and the client never sees the failure.
func TestH1Transport_RetriesWhenUpstreamClosesIdleConnection(t *testing.T) {
	up := newRawUpstream(t)
	h := newTestH1(t, up.url())
	requests := make(chan string, 8)
	go func() {
		c, br := up.next(t)
		if c == nil {
			return
		}
		if readRequest(br) {
			requests <- "conn 1, request 1"
			_, _ = io.WriteString(c, okResponse("first"))
		}
		if readRequest(br) {
			requests <- "conn 1, request 2"
			c.Close()
		}
		c, br = up.next(t)
		if c == nil {
			return
		}
		if readRequest(br) {
			requests <- "conn 2, request 1"
			_, _ = io.WriteString(c, okResponse("second"))
		}
	}()
	for _, want := range []string{"first", "second"} {
		res, body, err := h.do(t, context.Background(), "GET", up.url()+"/x")
		if err != nil || res.StatusCode != 200 || body != want {
			t.Fatalf("got %v %q, want 200 %q", err, body, want)
		}
	}
	close(requests)
	var got []string
	for r := range requests {
		got = append(got, r)
	}
	if want := "conn 1, request 1|conn 1, request 2|conn 2, request 1"; strings.Join(got, "|") != want {
		t.Errorf("upstream saw %q, want %q", got, want)
	}
}

// TestH1Transport_FreshConnectionIsNotRetried: a new connection closed
// without an answer is the upstream's answer; retrying could loop.
func TestH1Transport_FreshConnectionIsNotRetried(t *testing.T) {
	up := newRawUpstream(t)
	h := newTestH1(t, up.url())
	go func() {
		for i := 0; ; i++ {
			c, br := up.next(t)
			if c == nil {
				return
			}
			if readRequest(br) && i > 0 {
				_, _ = io.WriteString(c, okResponse("retried"))
				continue
			}
			c.Close()
		}
	}()
	_, body, err := h.do(t, context.Background(), "GET", up.url())
	if err == nil {
		t.Fatalf("got %q, want an error (no retry on a fresh connection)", body)
	}
	if d := h.dials.Load(); d != 1 {
		t.Errorf("%d dials, want 1", d)
	}
}

// TestH1Transport_ClosedIdleConnectionIsSkipped: a pooled connection the
// upstream has closed is found out before a request is written on it.
func TestH1Transport_ClosedIdleConnectionIsSkipped(t *testing.T) {
	up := newRawUpstream(t)
	h := newTestH1(t, up.url())
	go func() {
		c, br := up.next(t)
		if c == nil {
			return
		}
		if readRequest(br) {
			_, _ = io.WriteString(c, okResponse("first"))
		}
		c.Close() // as an upstream's keep-alive timeout does
		c, br = up.next(t)
		if c != nil && readRequest(br) {
			_, _ = io.WriteString(c, okResponse("second"))
		}
	}()
	if _, body, err := h.do(t, context.Background(), "GET", up.url()); err != nil || body != "first" {
		t.Fatalf("first: %q %v", body, err)
	}
	waitUntil(t, "the pooled connection sees the close", func() bool { return !h.pooledQuiet(t) })
	if _, body, err := h.do(t, context.Background(), "GET", up.url()); err != nil || body != "second" {
		t.Fatalf("second: %q %v", body, err)
	}
	if d := h.dials.Load(); d != 2 {
		t.Errorf("%d dials, want 2", d)
	}
}

// TestH1Transport_UnsolicitedBytesRetireConnection: bytes an upstream sends
// beyond its answer, at once or while the connection is idle, must never be
// read as the answer to the next request (response desynchronization).
func TestH1Transport_UnsolicitedBytesRetireConnection(t *testing.T) {
	forged := okResponse("forged")
	for _, tc := range []struct {
		name  string
		later bool
	}{
		{"with the response", false},
		{"while idle", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newRawUpstream(t)
			h := newTestH1(t, up.url())
			sendForged := make(chan struct{})
			go func() {
				c, br := up.next(t)
				if c == nil {
					return
				}
				if readRequest(br) {
					if tc.later {
						_, _ = io.WriteString(c, okResponse("first"))
						<-sendForged
						_, _ = io.WriteString(c, forged)
					} else {
						_, _ = io.WriteString(c, okResponse("first")+forged)
					}
				}
				c, br = up.next(t)
				if c != nil && readRequest(br) {
					_, _ = io.WriteString(c, okResponse("second"))
				}
			}()
			if _, body, err := h.do(t, context.Background(), "GET", up.url()); err != nil || body != "first" {
				t.Fatalf("first: %q %v", body, err)
			}
			if tc.later {
				waitUntil(t, "the pooled connection is quiet", func() bool { return h.pooledQuiet(t) })
				close(sendForged)
				waitUntil(t, "the forged bytes arrive", func() bool { return !h.pooledQuiet(t) })
			}
			if _, body, err := h.do(t, context.Background(), "GET", up.url()); err != nil || body != "second" {
				t.Fatalf("second request got %q (%v), want %q from a new connection", body, err, "second")
			}
			if d := h.dials.Load(); d != 2 {
				t.Errorf("%d dials, want 2", d)
			}
		})
	}
}

func TestH1Transport_ResponseHeaderLimit(t *testing.T) {
	up := newRawUpstream(t)
	h := newTestH1(t, up.url())
	h.fallback.MaxResponseHeaderBytes = 4 << 10
	go func() {
		c, br := up.next(t)
		if c != nil && readRequest(br) {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Big: "+strings.Repeat("a", 64<<10)+"\r\nContent-Length: 2\r\n\r\nok")
		}
	}()
	if _, _, err := h.do(t, context.Background(), "GET", up.url()); !errors.Is(err, errResponseHeaderTooLarge) {
		t.Fatalf("err %v, want %v", err, errResponseHeaderTooLarge)
	}
	if n := h.idleCount(); n != 0 {
		t.Errorf("%d pooled, want 0", n)
	}
}

func TestH1Transport_UnexpectedSwitchingProtocols(t *testing.T) {
	up := newRawUpstream(t)
	h := newTestH1(t, up.url())
	go func() {
		c, br := up.next(t)
		if c != nil && readRequest(br) {
			_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
		}
	}()
	if _, _, err := h.do(t, context.Background(), "GET", up.url()); !errors.Is(err, errUnexpectedSwitch) {
		t.Fatalf("err %v, want %v", err, errUnexpectedSwitch)
	}
}

func TestH1Transport_InformationalResponses(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		_, _ = io.WriteString(w, "final")
	}))
	t.Cleanup(up.Close)
	h := newTestH1(t, up.URL)
	var got []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, hdr textproto.MIMEHeader) error {
		got = append(got, strconv.Itoa(code)+" "+hdr.Get("Link"))
		return nil
	}}
	for _, ctx := range []context.Context{httptrace.WithClientTrace(context.Background(), trace), context.Background()} {
		res, body, err := h.do(t, ctx, "GET", up.URL)
		if err != nil || res.StatusCode != 200 || body != "final" {
			t.Fatalf("got %v %q, want 200 final", err, body)
		}
	}
	if want := "103 </style.css>; rel=preload"; len(got) != 1 || got[0] != want {
		t.Errorf("informational responses seen %q, want [%q]", got, want)
	}
}

// TestH1Transport_CancelClosesConnection: a client that goes away while the
// upstream is thinking ends the wait and the upstream connection at once.
func TestH1Transport_CancelClosesConnection(t *testing.T) {
	up := newRawUpstream(t)
	h := newTestH1(t, up.url())
	gotRequest := make(chan struct{})
	upstreamSawClose := make(chan error, 1)
	go func() {
		c, br := up.next(t)
		if c == nil || !readRequest(br) {
			return
		}
		close(gotRequest)
		_, err := br.ReadByte() // never answers; waits for the close
		upstreamSawClose <- err
	}()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-gotRequest
		cancel()
	}()
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", up.url(), nil)
		res, err := h.RoundTrip(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("request still waiting 5 s after the cancel")
	}
	select {
	case err := <-upstreamSawClose:
		if err != io.EOF {
			t.Errorf("upstream read %v, want EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("upstream connection still open 5 s after the cancel")
	}
}

func TestH1Transport_IdleConnectionsExpireAndClose(t *testing.T) {
	up := newRawUpstream(t)
	h := newTestH1(t, up.url())
	h.mu.Lock()
	h.fallback.IdleConnTimeout = 50 * time.Millisecond
	h.mu.Unlock()
	closed := make(chan error, 2)
	go func() {
		for {
			c, br := up.next(t)
			if c == nil {
				return
			}
			go func() {
				if readRequest(br) {
					_, _ = io.WriteString(c, okResponse("ok"))
				}
				_, err := br.ReadByte()
				closed <- err
			}()
		}
	}()
	if _, _, err := h.do(t, context.Background(), "GET", up.url()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"idle timeout", "CloseIdleConnections"} {
		if name == "CloseIdleConnections" {
			h.mu.Lock()
			h.fallback.IdleConnTimeout = time.Hour
			h.mu.Unlock()
			if _, _, err := h.do(t, context.Background(), "GET", up.url()); err != nil {
				t.Fatal(err)
			}
			h.CloseIdleConnections()
		}
		select {
		case err := <-closed:
			if err != io.EOF {
				t.Errorf("%s: upstream read %v, want EOF", name, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: pooled connection not closed within 5 s", name)
		}
		if n := h.idleCount(); n != 0 {
			t.Errorf("%s: %d pooled, want 0", name, n)
		}
	}
}

func TestH1Transport_DialAddress(t *testing.T) {
	for host, want := range map[string]string{
		"127.0.0.1":      "127.0.0.1:80",
		"127.0.0.1:9000": "127.0.0.1:9000",
		"[::1]":          "[::1]:80",
		"[::1]:8080":     "[::1]:8080",
		"api.internal":   "api.internal:80",
	} {
		if got := newHTTP1Transport(&http.Transport{}, host).addr; got != want {
			t.Errorf("host %q: dials %q, want %q", host, got, want)
		}
	}
}

// TestH1Transport_ConnectionWithoutSocketIsNotPooled: a dialer that returns
// something other than a socket (here one end of net.Pipe) still works; its
// connections are used once, since they cannot be checked while idle.
func TestH1Transport_ConnectionWithoutSocketIsNotPooled(t *testing.T) {
	h := newTestH1(t, "http://upstream.test")
	h.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		h.dials.Add(1)
		client, server := net.Pipe()
		go func() {
			defer server.Close()
			br := bufio.NewReader(server)
			if readRequest(br) {
				_, _ = io.WriteString(server, okResponse("piped"))
			}
		}()
		_ = client.SetDeadline(time.Now().Add(10 * time.Second))
		return client, nil
	}
	for i := 0; i < 2; i++ {
		if _, body, err := h.do(t, context.Background(), "GET", "http://upstream.test/"); err != nil || body != "piped" {
			t.Fatalf("request %d: %q %v", i, body, err)
		}
	}
	if d, n := h.dials.Load(), h.idleCount(); d != 2 || n != 0 {
		t.Errorf("%d dials, %d pooled; want 2, 0", d, n)
	}
}
