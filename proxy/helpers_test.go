package proxy

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/settings"
)

const (
	testKey         = "test-key-portal"
	testInactiveKey = "test-key-inactive"
	testAdminKey    = "test-key-manager"
)

// seen is what the test upstream received.
type seen struct {
	RequestURI string
	Method     string
	Header     http.Header
	Body       string
	Host       string
}

// testUpstream is a real loopback HTTP server that records every request.
type testUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func newUpstream(t testing.TB, h http.HandlerFunc) *testUpstream {
	t.Helper()
	u := &testUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, seen{r.RequestURI, r.Method, r.Header.Clone(), string(body), r.Host})
		u.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "upstream ok")
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *testUpstream) requests() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.reqs...)
}

func (u *testUpstream) last(t *testing.T) seen {
	t.Helper()
	r := u.requests()
	if len(r) == 0 {
		t.Fatal("upstream received no request")
	}
	return r[len(r)-1]
}

func sum(k string) [32]byte { return sha256.Sum256([]byte(k)) }

func mustGlobs(t testing.TB, ps ...string) []policy.Glob {
	t.Helper()
	var out []policy.Glob
	for _, p := range ps {
		g, err := policy.ParseGlob(p)
		if err != nil {
			t.Fatalf("glob %q: %v", p, err)
		}
		out = append(out, g)
	}
	return out
}

// testSpec is an HR upstream at /hr (base path /api), a public upstream at
// /pub, an app with role "reader" and an inactive app.
func testSpec(t testing.TB, upstreamURL string) policy.Spec {
	t.Helper()
	u, err := url.Parse(upstreamURL + "/api")
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := url.Parse(upstreamURL)
	return policy.Spec{
		Hash: "testhash",
		Server: policy.Server{
			Production:      true,
			MaxBodyBytes:    1024,
			BodyBufferBytes: 64 << 10, // config's default
			IdentityHeaders: true,
		},
		Upstreams: []policy.UpstreamSpec{
			{Name: "hr", URL: u, Prefix: "/hr", Active: true, Timeout: 2 * time.Second},
			{Name: "pub", URL: pub, Prefix: "/pub", Active: true, Public: true},
		},
		Apps: []policy.AppSpec{
			{Name: "portal", KeySHA256: sum(testKey), DefaultRole: "reader", Active: true},
			{Name: "old", KeySHA256: sum(testInactiveKey), DefaultRole: "reader", Active: false},
			{Name: "backoffice", KeySHA256: sum(testAdminKey), DefaultRole: "manager", Active: true},
		},
		Roles: []policy.RoleSpec{
			{Name: "reader", Active: true, Grants: []policy.GrantSpec{
				{Upstream: "hr", Paths: mustGlobs(t, "/employees", "/employees/**"), Verbs: policy.VerbGET, Origin: "test.hcl:1,1"},
				{Deny: true, Upstream: "hr", Paths: mustGlobs(t, "/employees/*/salary"), Verbs: policy.VerbGET, Origin: "test.hcl:2,1"},
			}},
			{Name: "manager", Active: true, Grants: []policy.GrantSpec{
				{Upstream: "hr", Paths: mustGlobs(t, "/**"), Verbs: policy.VerbGET | policy.VerbPOST | policy.VerbPUT, Origin: "test.hcl:3,1"},
			}},
		},
	}
}

// testProxy is the real handler on a real loopback listener, with the
// access log captured.
type testProxy struct {
	*httptest.Server
	srv *Server
	log *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// records returns the JSON log records whose msg is "request".
func (s *syncBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newTestProxy(t testing.TB, spec policy.Spec) *testProxy {
	t.Helper()
	return newTestProxyRuntime(t, spec, nil)
}

// newTestProxyRuntime is newTestProxy with runtime settings (login
// providers' connection settings) loaded beside the snapshot.
func newTestProxyRuntime(t testing.TB, spec policy.Spec, rt *settings.Runtime) *testProxy {
	t.Helper()
	snap, err := policy.New(spec)
	if err != nil {
		t.Fatalf("policy.New: %v", err)
	}
	buf := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(buf, nil))
	srv := New(Options{Logger: logger, AccessLog: buf})
	srv.Load(snap, rt)
	ts := httptest.NewUnstartedServer(srv)
	ts.Listener = FramingListener(ts.Listener)
	ts.Config.ConnContext = FramingConnContext
	ts.Config.MaxHeaderBytes = 8 << 10
	ts.Config.ReadHeaderTimeout = 5 * time.Second
	ts.Config.DisableGeneralOptionsHandler = true
	ts.Start()
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return &testProxy{Server: ts, srv: srv, log: buf}
}

func (p *testProxy) get(t *testing.T, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, p.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return do(t, p.Client(), req)
}

func do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// raw sends bytes on a fresh TCP connection and returns the status line and
// the whole response text. The request should carry "Connection: close" (or
// be one the server answers by closing); raw reads until the server closes.
func raw(t *testing.T, addr, request string) (statusLine, all string) {
	t.Helper()
	all, _ = sendRaw(t, addr, request, false)
	statusLine, _, _ = strings.Cut(all, "\r\n")
	return statusLine, all
}

// sendRaw sends request on a fresh TCP connection (then, with halfClose,
// closes the connection's write side) and returns what the server sent
// until it closed the connection, within a 5s deadline; err is the read's
// error (a timeout: the server left the connection open).
func sendRaw(t *testing.T, addr, request string, halfClose bool) (string, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	if halfClose {
		_ = c.(*net.TCPConn).CloseWrite()
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

func mustPrefix(t testing.TB, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// acceptWebSocket is the upstream's side of a WebSocket upgrade: it
// hijacks the connection and writes a 101; a request without "Upgrade:
// websocket" gets 400. The caller closes the connection it returns.
func acceptWebSocket(w http.ResponseWriter, r *http.Request) (net.Conn, *bufio.ReadWriter, bool) {
	if r.Header.Get("Upgrade") != "websocket" {
		http.Error(w, "not an upgrade", http.StatusBadRequest)
		return nil, nil, false
	}
	c, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil, false
	}
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	_ = brw.Flush()
	return c, brw, true
}

// echoTunnel is an upstream that accepts a WebSocket upgrade with a 101,
// reads one line through the tunnel and, after delay, answers prefix+line.
func echoTunnel(prefix string, delay time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, brw, ok := acceptWebSocket(w, r)
		if !ok {
			return
		}
		defer c.Close()
		line, _ := brw.ReadString('\n')
		time.Sleep(delay) // the upstream's own pace, not synchronization
		_, _ = brw.WriteString(prefix + line)
		_ = brw.Flush()
	}
}
