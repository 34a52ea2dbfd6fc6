package proxy

import (
	"bufio"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// strayForged is what the stray upstream sends after a response that has no
// body: a complete response of its own, which a connection reused for the
// next request would hand to that request's client.
const strayForged = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Marker: STRAY\r\n\r\nSTRAY"

// strayUpstream is a buggy upstream. It answers a GET with the marker of
// the request (its X-Gatehouse-App and the id in its query), in a header
// and as the body. It answers a HEAD, and GET /api/nocontent (204) and
// /api/notmodified (304), with a response that has no body, followed by
// strayForged: in the same write for an even id, after a pause for an odd
// one. (POST /api/nocontent too.) It serves each connection itself (hijacked), so that it can write
// what net/http would refuse.
type strayUpstream struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (u *strayUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body) // not readable once hijacked
	c, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	u.mu.Lock()
	u.conns = append(u.conns, c)
	u.mu.Unlock()
	defer c.Close()
	for {
		if !strayAnswer(brw.Writer, r) {
			return
		}
		if r, err = http.ReadRequest(brw.Reader); err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
	}
}

func (u *strayUpstream) closeAll() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, c := range u.conns {
		c.Close()
	}
}

func strayMarker(r *http.Request) string {
	return r.Header.Get("X-Gatehouse-App") + "/" + r.URL.Query().Get("id")
}

// strayAnswer answers r on w and reports whether the connection is still
// good.
func strayAnswer(w *bufio.Writer, r *http.Request) bool {
	m := strayMarker(r)
	id, _ := strconv.Atoi(r.URL.Query().Get("id"))
	var head string
	switch {
	case r.Method == http.MethodHead:
		head = "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(strayForged)) + "\r\nX-Marker: " + m + "\r\n\r\n"
	case r.URL.Path == "/api/nocontent":
		head = "HTTP/1.1 204 No Content\r\nX-Marker: " + m + "\r\n\r\n"
	case r.URL.Path == "/api/notmodified":
		head = "HTTP/1.1 304 Not Modified\r\nX-Marker: " + m + "\r\n\r\n"
	default:
		_, _ = io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(m))+"\r\nX-Marker: "+m+"\r\n\r\n"+m)
		return w.Flush() == nil
	}
	_, _ = io.WriteString(w, head)
	if id%2 == 1 {
		if w.Flush() != nil {
			return false
		}
		time.Sleep(time.Millisecond) // the buggy upstream's late body
	}
	_, _ = io.WriteString(w, strayForged)
	return w.Flush() == nil
}

// strayProxy puts gatehouse in front of a strayUpstream (https when tls).
func strayProxy(t *testing.T, tls bool) *httptest.Server {
	t.Helper()
	su := &strayUpstream{}
	t.Cleanup(su.closeAll)
	ts, _ := rawUpstreamProxy(t, su, tls, 5*time.Second)
	return ts
}

// rawUpstreamProxy puts gatehouse, with its access log captured, in front
// of an upstream served by h (https when tls) at /hr, with the given
// timeout: apps "alpha" and "beta" (keys "key-alpha", "key-beta"), with
// roles "ra" and "rb" that both allow GET, HEAD and POST on everything.
func rawUpstreamProxy(t *testing.T, h http.Handler, tls bool, timeout time.Duration) (*httptest.Server, *syncBuffer) {
	t.Helper()
	up := httptest.NewUnstartedServer(h)
	var roots *x509.CertPool
	if tls {
		up.StartTLS()
		roots = x509.NewCertPool()
		roots.AddCert(up.Certificate())
	} else {
		up.Start()
	}
	t.Cleanup(up.Close)
	u, err := url.Parse(up.URL + "/api")
	if err != nil {
		t.Fatal(err)
	}
	grant := func(origin string) []policy.GrantSpec {
		return []policy.GrantSpec{{Upstream: "hr", Paths: mustGlobs(t, "/**"), Verbs: policy.VerbGET | policy.VerbHEAD | policy.VerbPOST, Origin: origin}}
	}
	snap, err := policy.New(policy.Spec{
		Hash:      "raw",
		Server:    policy.Server{Production: true, MaxBodyBytes: 1024, IdentityHeaders: true},
		Upstreams: []policy.UpstreamSpec{{Name: "hr", URL: u, Prefix: "/hr", Active: true, Timeout: timeout}},
		Apps: []policy.AppSpec{
			{Name: "alpha", KeySHA256: sum("key-alpha"), DefaultRole: "ra", Active: true},
			{Name: "beta", KeySHA256: sum("key-beta"), DefaultRole: "rb", Active: true},
		},
		Roles: []policy.RoleSpec{
			{Name: "ra", Active: true, Grants: grant("raw.hcl:1,1")},
			{Name: "rb", Active: true, Grants: grant("raw.hcl:2,1")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	buf := &syncBuffer{}
	srv := New(Options{Logger: slog.New(slog.DiscardHandler), AccessLog: buf, UpstreamRootCAs: roots})
	srv.Load(snap, nil)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return ts, buf
}

// TestForward_BodyAfterBodilessResponseNeverReachesAnotherClient: an
// upstream that sends a body after a HEAD, 204 or 304 response, at once or
// late, must never have those bytes read as the response to another
// request, on any transport (http upstreams: upstream.HTTP1Transport;
// https ones: http.Transport). Two apps send concurrent HEAD and GET
// requests; every response must carry the marker of its own request.
func TestForward_BodyAfterBodilessResponseNeverReachesAnotherClient(t *testing.T) {
	const workers, perWorker = 8, 70 // per app: 2 × 8 × 70 = 1120 requests
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"http upstream", false}, {"https upstream", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ts := strayProxy(t, tc.tls)
			var mixed, crossApp, failed, total atomic.Int64
			var mu sync.Mutex
			var examples []string
			var wg sync.WaitGroup
			for _, app := range []string{"alpha", "beta"} {
				for w := range workers {
					wg.Add(1)
					other := map[string]string{"alpha": "beta/", "beta": "alpha/"}[app]
					go func() {
						defer wg.Done()
						client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 10 * time.Second}
						defer client.CloseIdleConnections()
						for i := range perWorker {
							id := w*perWorker + i
							method, path, body := http.MethodGet, "/hr/x", io.Reader(nil)
							switch i % 4 {
							case 1:
								method = http.MethodHead
							case 2:
								path = []string{"/hr/nocontent", "/hr/notmodified"}[(i/4)%2]
							case 3: // a request with a body: http.Transport on both
								method, path, body = http.MethodPost, "/hr/nocontent", strings.NewReader("x")
							}
							req, _ := http.NewRequest(method, ts.URL+path+"?id="+strconv.Itoa(id), body)
							req.Header.Set("X-API-Key", "key-"+app)
							total.Add(1)
							res, err := client.Do(req)
							if err != nil {
								failed.Add(1)
								continue
							}
							b, _ := io.ReadAll(res.Body)
							res.Body.Close()
							if res.StatusCode >= 500 {
								failed.Add(1)
								continue
							}
							want := app + "/" + strconv.Itoa(id)
							got := res.Header.Get("X-Marker")
							ok := got == want
							if method == http.MethodGet && res.StatusCode == 200 && string(b) != want {
								ok = false
							}
							if !ok {
								mixed.Add(1)
								if strings.HasPrefix(got, other) || strings.HasPrefix(string(b), other) {
									crossApp.Add(1)
								}
								mu.Lock()
								if len(examples) < 5 {
									examples = append(examples, fmt.Sprintf("%s %s as %s: %d X-Marker %q body %q", method, path, want, res.StatusCode, got, b))
								}
								mu.Unlock()
							}
						}
					}()
				}
			}
			wg.Wait()
			t.Logf("%d requests: %d mixed responses (%d with the other app's marker), %d failed", total.Load(), mixed.Load(), crossApp.Load(), failed.Load())
			if n := mixed.Load(); n != 0 {
				t.Errorf("%d of %d responses carried another request's marker or the stray body, want 0; e.g. %q", n, total.Load(), examples)
			}
		})
	}
}
