package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// echoForever is an upstream that accepts a WebSocket upgrade with a 101
// and then echoes every line back, prefixed with "echo:", until the
// connection closes.
func echoForever() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, brw, ok := acceptWebSocket(w, r)
		if !ok {
			return
		}
		defer c.Close()
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			_, _ = brw.WriteString("echo:" + line)
			if brw.Flush() != nil {
				return
			}
		}
	}
}

// wsTunnel is the client end of a tunnel through the proxy.
type wsTunnel struct {
	c  net.Conn
	br *bufio.Reader
}

// dialUpgrade sends a WebSocket upgrade for path with the extra header
// lines (each ending in "\r\n") and returns the response head; on 101 the
// tunnel is open, else nil.
func dialUpgrade(t *testing.T, addr, path, extra string) (*http.Response, *wsTunnel) {
	t.Helper()
	c, br := sendUpgrade(t, addr, path, extra)
	return readUpgrade(t, c, br)
}

// sendUpgrade sends the upgrade request of dialUpgrade.
func sendUpgrade(t *testing.T, addr, path, extra string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n"+extra+"Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReader(c)
}

// readUpgrade reads the answer to sendUpgrade's request.
func readUpgrade(t *testing.T, c net.Conn, br *bufio.Reader) (*http.Response, *wsTunnel) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		c.Close()
		return res, nil
	}
	_ = c.SetDeadline(time.Time{})
	return res, &wsTunnel{c: c, br: br}
}

func mustUpgrade(t *testing.T, addr, path, extra string) *wsTunnel {
	t.Helper()
	res, tun := dialUpgrade(t, addr, path, extra)
	if tun == nil {
		t.Fatalf("upgrade %s: got %d, want 101", path, res.StatusCode)
	}
	tun.ping(t)
	return tun
}

// ping sends a line through the tunnel and expects its echo.
func (w *wsTunnel) ping(t *testing.T) {
	t.Helper()
	_ = w.c.SetDeadline(time.Now().Add(5 * time.Second))
	defer func() { _ = w.c.SetDeadline(time.Time{}) }()
	if _, err := io.WriteString(w.c, "ping\n"); err != nil {
		t.Fatalf("tunnel write: %v", err)
	}
	line, err := w.br.ReadString('\n')
	if err != nil || line != "echo:ping\n" {
		t.Fatalf("tunnel: got %q, %v; want echo:ping", line, err)
	}
}

// wantClosed asserts that the proxy closes the tunnel within 5 s: the
// client reads EOF (or a reset), not a timeout.
func (w *wsTunnel) wantClosed(t *testing.T, why string) {
	t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := w.br.Read(make([]byte, 64))
	switch {
	case n > 0:
		t.Fatalf("%s: tunnel sent %d bytes, want it closed", why, n)
	case errors.Is(err, os.ErrDeadlineExceeded):
		t.Fatalf("%s: tunnel still open after 5 s, want it closed", why)
	case err == nil:
		t.Fatalf("%s: read returned nothing and no error", why)
	}
}

// cookie is a session cookie header line.
func cookie(token string) string { return "Cookie: " + SessionCookie + "=" + token + "\r\n" }

func bearer(token string) string { return "Authorization: Bearer " + token + "\r\n" }

func keyHeader(k string) string { return "X-API-Key: " + k + "\r\n" }

// upgradeSpec is sessionSpec with cors blocks: /hr/employees/cors/**
// allows portalOrigin with credentials, /hr/employees/nocred/** allows it
// without.
func upgradeSpec(t testing.TB, upstreamURL string) policy.Spec {
	t.Helper()
	spec := sessionSpec(t, upstreamURL)
	o, err := policy.ParseOrigin(portalOrigin)
	if err != nil {
		t.Fatal(err)
	}
	rule := func(path string, cred bool) policy.CORSSpec {
		return policy.CORSSpec{Path: mustGlobs(t, path)[0], AllowOrigins: []policy.OriginPattern{o},
			Methods: policy.VerbGET, MaxAge: -1, Credentials: cred, Enabled: true}
	}
	spec.CORS = []policy.CORSSpec{rule("/hr/employees/cors/**", true), rule("/hr/employees/nocred/**", false)}
	return spec
}

// Issue 18, point 12(a): a cross-site page must not open a socket with the
// victim's session cookie.
func TestUpgrade_OriginOfCookieSessions(t *testing.T) {
	up := newUpstream(t, echoForever())
	p := newTestProxy(t, upgradeSpec(t, up.URL))
	addr := p.Listener.Addr().String()
	tok := p.mustLogin(t, testKey, "alice", "alicepw")
	key := keyHeader(testKey)
	for _, tc := range []struct {
		name, path, extra string
		want              int
	}{
		{"cookie, cross-site origin", "/hr/employees/ws", key + cookie(tok) + "Origin: " + evilOrigin + "\r\n", 403},
		{"cookie, null origin", "/hr/employees/ws", key + cookie(tok) + "Origin: null\r\n", 403},
		{"cookie, empty origin", "/hr/employees/ws", key + cookie(tok) + "Origin: \r\n", 403},
		{"cookie, two origins", "/hr/employees/ws", key + cookie(tok) + "Origin: http://x\r\nOrigin: " + evilOrigin + "\r\n", 403},
		{"cookie, same origin", "/hr/employees/ws", key + cookie(tok) + "Origin: http://x\r\n", 101},
		{"cookie, same origin with default port", "/hr/employees/ws", key + cookie(tok) + "Origin: http://x:80\r\n", 101},
		{"cookie, same host other scheme", "/hr/employees/ws", key + cookie(tok) + "Origin: https://x\r\n", 403},
		{"cookie, no origin (not a browser)", "/hr/employees/ws", key + cookie(tok), 101},
		{"cookie, cors origin with credentials", "/hr/employees/cors/ws", key + cookie(tok) + "Origin: " + portalOrigin + "\r\n", 101},
		{"cookie, other origin on cors path", "/hr/employees/cors/ws", key + cookie(tok) + "Origin: " + evilOrigin + "\r\n", 403},
		{"cookie, same origin on cors path", "/hr/employees/cors/ws", key + cookie(tok) + "Origin: http://x\r\n", 101},
		{"cookie, cors origin without credentials", "/hr/employees/nocred/ws", key + cookie(tok) + "Origin: " + portalOrigin + "\r\n", 403},
		{"bearer, cross-site origin", "/hr/employees/ws", key + bearer(tok) + "Origin: " + evilOrigin + "\r\n", 101},
		{"api key only, cross-site origin", "/hr/employees/ws", key + "Origin: " + evilOrigin + "\r\n", 101},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(up.requests())
			res, _ := dialUpgrade(t, addr, tc.path, tc.extra)
			if res.StatusCode != tc.want {
				t.Fatalf("got %d, want %d", res.StatusCode, tc.want)
			}
			reached := len(up.requests()) > before
			if tc.want == 403 && reached {
				t.Errorf("a refused upgrade reached the upstream")
			}
		})
	}
	var refused int
	for _, rec := range p.log.records(t) {
		if rec["reason"] == reasonUpgradeOrigin {
			refused++
		}
	}
	if refused != 7 {
		t.Errorf("%d access records with reason %s, want 7", refused, reasonUpgradeOrigin)
	}
}

// Same origin behind a trusted proxy is the origin the proxy says the
// client used (X-Forwarded-Proto/-Host); from anyone else those headers
// are ignored.
func TestUpgrade_SameOriginBehindTrustedProxy(t *testing.T) {
	up := newUpstream(t, echoForever())
	for _, tc := range []struct {
		name    string
		trusted bool
		origin  string
		want    int
	}{
		{"trusted proxy, forwarded origin", true, "https://api.example.com", 101},
		{"trusted proxy, listener's own origin", true, "http://x", 403},
		{"untrusted peer, forwarded origin", false, "https://api.example.com", 403},
		{"untrusted peer, own origin", false, "http://x", 101},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := sessionSpec(t, up.URL)
			if tc.trusted {
				spec.Server.TrustedProxies = []netip.Prefix{mustPrefix(t, "127.0.0.0/8")}
			}
			p := newTestProxy(t, spec)
			tok := p.mustLogin(t, testKey, "alice", "alicepw")
			extra := keyHeader(testKey) + cookie(tok) + "Origin: " + tc.origin + "\r\n" +
				"X-Forwarded-Proto: https\r\nX-Forwarded-Host: api.example.com\r\n"
			res, _ := dialUpgrade(t, p.Listener.Addr().String(), "/hr/employees/ws", extra)
			if res.StatusCode != tc.want {
				t.Fatalf("got %d, want %d", res.StatusCode, tc.want)
			}
		})
	}
}

func TestSameOrigin(t *testing.T) {
	for _, tc := range []struct {
		origin, scheme, host string
		want                 bool
	}{
		{"http://x", "http", "x", true},
		{"http://x:80", "http", "x", true},
		{"http://x", "http", "x:80", true},
		{"https://api.example.com", "https", "API.example.com:443", true},
		{"http://[::1]:8080", "http", "[::1]:8080", true},
		{"http://x:8080", "http", "x", false},
		{"https://x", "http", "x", false},
		{"null", "http", "x", false},
		{"", "http", "x", false},
		{"http://*.x", "http", "*.x", false},
		{"http://x/", "http", "x", false},
		{"http://user@x", "http", "x", false},
		{"http://x", "http", "", false},
		{"http://x", "http", "x:0", false},
	} {
		if got := sameOrigin(tc.origin, tc.scheme, tc.host); got != tc.want {
			t.Errorf("sameOrigin(%q, %q, %q) = %v, want %v", tc.origin, tc.scheme, tc.host, got, tc.want)
		}
	}
}
