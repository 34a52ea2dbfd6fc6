package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// acmeDomain is the name gatehouse gets certificates for. Pebble's DNS
// (pebble-challtestsrv) resolves every name to 127.0.0.1; the clients here
// dial loopback directly and only send the name as SNI and Host.
const acmeDomain = "proxy.acme.test"

const acmeE2EConfig = `
server {
  listen       = "127.0.0.1:%d"
  tls_listen   = "127.0.0.1:%d"
  admin_listen = "127.0.0.1:0"
}

tls {
  acme {
    email     = "ops@example.com"
    domains   = ["%s"]
    directory = "%s"
    ca_roots  = "%s"
    cache_dir = "%s"
%s  }
}

upstream "hr" {
  url    = "%s"
  prefix = "/hr"
}

app "portal" {
  api_key_sha256 = "%s"
  default_role   = "reader"
}

role "reader" {
  allow "hr" {
    paths = ["/employees"]
    verbs = ["GET"]
  }
}
`

// acmeWorld is Pebble, an upstream and the gatehouse binary with an acme
// block, all on loopback.
type acmeWorld struct {
	pebble   *testenv.Pebble
	p        *process
	cacheDir string
	tlsAddr  string // 127.0.0.1:port of the TLS listener
	httpAddr string
	httpPort int
	tlsPort  int

	mu    sync.Mutex
	proto []string // X-Forwarded-Proto of each upstream request
}

type acmeSetup struct {
	// httpOnly points Pebble's TLS-ALPN-01 port at a closed port, so that
	// only HTTP-01 can succeed.
	httpOnly bool
	validity time.Duration
	eab      bool
	logLevel string // gatehouse's -log-level; "" = info
}

// reservePorts returns n distinct free loopback ports outside the
// ephemeral range, held until release is called, so that nothing started
// meanwhile (Pebble picks its own free ports) can take them.
func reservePorts(t *testing.T, n int) (ports []int, release func()) {
	t.Helper()
	var lns []net.Listener
	release = func() {
		for _, ln := range lns {
			ln.Close()
		}
		lns = nil
	}
	t.Cleanup(release)
	for range n {
		ln, err := testenv.ListenFree()
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, release
}

func startACMEWorld(t *testing.T, s acmeSetup) *acmeWorld {
	t.Helper()
	w := &acmeWorld{}
	up := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.proto = append(w.proto, r.Header.Get("X-Forwarded-Proto"))
		w.mu.Unlock()
		_, _ = io.WriteString(rw, "hello over acme")
	}))
	t.Cleanup(up.Close)

	ports, release := reservePorts(t, 3)
	w.httpPort, w.tlsPort = ports[0], ports[1]
	opts := testenv.PebbleOptions{HTTPPort: w.httpPort, TLSPort: w.tlsPort, Validity: s.validity}
	if s.httpOnly {
		opts.TLSPort = ports[2] // nothing listens there
	}
	eab := ""
	if s.eab {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		enc := base64.RawURLEncoding.EncodeToString(key)
		opts.EABKeys = map[string]string{"kid-1": enc}
		t.Setenv("GATEHOUSE_TEST_EAB_HMAC", enc)
		eab = "    eab_kid   = \"kid-1\"\n    eab_hmac  = env(\"GATEHOUSE_TEST_EAB_HMAC\")\n"
	}
	w.pebble = testenv.StartPebble(t, opts)
	release() // for gatehouse; ports[2] stays closed
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pebble logs:\n%s", w.pebble.Log())
		}
	})

	dir := t.TempDir()
	w.cacheDir = filepath.Join(dir, "acme") // created by gatehouse
	cfg := filepath.Join(dir, "gatehouse.hcl")
	writeFile(t, cfg, fmt.Sprintf(acmeE2EConfig, w.httpPort, w.tlsPort, acmeDomain,
		w.pebble.DirectoryURL, w.pebble.APICAFile, w.cacheDir, eab, up.URL, hashKey("k1")))
	if code, out, errOut := runCmd(t, ".", "validate", "--config", cfg); code != 0 {
		t.Fatalf("validate: exit %d\n%s%s", code, out, errOut)
	}
	args := []string{"run", "--config", cfg}
	if s.logLevel != "" {
		args = append(args, "-log-level", s.logLevel)
	}
	w.p = startBinary(t, args...)
	t.Cleanup(func() { _ = w.p.stop(t) }) // whichever process w.p is by then
	w.tlsAddr, w.httpAddr = w.p.tls, w.p.public
	if w.tlsAddr != "127.0.0.1:"+strconv.Itoa(w.tlsPort) {
		t.Fatalf("tls listener logged at %q, want port %d", w.tlsAddr, w.tlsPort)
	}
	return w
}

// handshake dials the TLS listener with sni (no SNI when empty) and
// returns the peer chain, verified against roots when roots is not nil.
func (w *acmeWorld) handshake(t *testing.T, sni string, roots *x509.CertPool) ([]*x509.Certificate, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{ServerName: sni, RootCAs: roots, InsecureSkipVerify: roots == nil}}
	c, err := d.DialContext(ctx, "tcp", w.tlsAddr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState().PeerCertificates, nil
}

// client returns an HTTPS client that trusts Pebble's issuing root only
// and dials the TLS listener for every name.
func (w *acmeWorld) client(http2 bool) *http.Client {
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: w.pebble.Roots},
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", w.tlsAddr)
		},
		ForceAttemptHTTP2: http2,
	}
	if !http2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// checkServing fetches the proxied upstream over HTTPS with the chain
// verified against Pebble's root, over HTTP/2 and HTTP/1.1.
func (w *acmeWorld) checkServing(t *testing.T) {
	t.Helper()
	for _, h2 := range []bool{true, false} {
		req, _ := http.NewRequest("GET", "https://"+acmeDomain+":"+strconv.Itoa(w.tlsPort)+"/hr/employees", nil)
		req.Header.Set("X-API-Key", "k1")
		res, err := w.client(h2).Do(req)
		if err != nil {
			t.Fatalf("GET over HTTPS (http2=%v), chain verified against Pebble's root: %v", h2, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(body) != "hello over acme" {
			t.Errorf("http2=%v: got %d %q, want 200 from the upstream", h2, res.StatusCode, body)
		}
		if want := map[bool]int{true: 2, false: 1}[h2]; res.ProtoMajor != want {
			t.Errorf("protocol %s, want HTTP/%d", res.Proto, want)
		}
		if got := res.Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
			t.Errorf("Strict-Transport-Security = %q, want max-age=31536000", got)
		}
		if res.TLS == nil || res.TLS.Version < tls.VersionTLS12 {
			t.Errorf("TLS state %+v, want TLS 1.2 or later", res.TLS)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.proto) != 2 || w.proto[0] != "https" || w.proto[1] != "https" {
		t.Errorf("upstream saw X-Forwarded-Proto %q, want [https https] (Request.TLS set for HTTP/2 and HTTP/1.1)", w.proto)
	}
}

// checkCache asserts the cache layout: 0700 directories, 0600 files, one
// subdirectory for the directory URL holding the account key and the
// certificate.
func (w *acmeWorld) checkCache(t *testing.T) {
	t.Helper()
	var files []string
	err := filepath.WalkDir(w.cacheDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		} else {
			files = append(files, filepath.Base(path))
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, st.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(files, " ")
	if !strings.Contains(joined, "acme_account+key") || !strings.Contains(joined, acmeDomain) {
		t.Errorf("cache files %q, want the account key and %s", files, acmeDomain)
	}
}

// certificateStored waits for the log line of a stored certificate with
// the given event (obtained or renewed).
func (w *acmeWorld) certificateStored(t *testing.T, event string) map[string]any {
	t.Helper()
	return w.p.waitFor(t, "certificate stored ("+event+")", func(l map[string]any) bool {
		names, _ := l["names"].([]any)
		return l["msg"] == "certificate stored" && l["event"] == event && len(names) == 1 && names[0] == acmeDomain
	})
}

// TestACMEE2E_TLSALPN01 obtains a certificate from Pebble through
// TLS-ALPN-01 on the first handshake, serves the proxied upstream with it
// over HTTP/2 and HTTP/1.1 (chain verified against Pebble's root), keeps
// the cache private, redirects plain HTTP, and never starts an order for
// a name that is not configured.
func TestACMEE2E_TLSALPN01(t *testing.T) {
	w := startACMEWorld(t, acmeSetup{})

	start := time.Now()
	chain, err := w.handshake(t, acmeDomain, w.pebble.Roots)
	if err != nil {
		t.Fatalf("first handshake (issues the certificate): %v", err)
	}
	elapsed := time.Since(start)
	t.Logf("TLS-ALPN-01: first handshake to certificate in %v", elapsed.Round(time.Millisecond))
	if elapsed > 5*time.Second {
		t.Errorf("first certificate took %v, want < 5s with PEBBLE_VA_NOSLEEP=1", elapsed)
	}
	if len(chain) != 2 || len(chain[0].DNSNames) != 1 || chain[0].DNSNames[0] != acmeDomain {
		t.Fatalf("chain %d certificates, leaf names %v; want leaf + intermediate for %s", len(chain), chain[0].DNSNames, acmeDomain)
	}
	if n := w.pebble.Orders(); n != 1 {
		t.Errorf("Pebble orders = %d, want 1", n)
	}
	stored := w.certificateStored(t, "obtained")
	if stored["not_after"] == nil || stored["component"] != "tls" {
		t.Errorf("certificate stored log line %v, want not_after and component=tls", stored)
	}
	w.checkExpiryMetric(t, chain[0].NotAfter)
	w.checkServing(t)
	w.checkCache(t)

	// Case and a trailing dot in the SNI name the same certificate.
	if chain, err := w.handshake(t, "PROXY.acme.test.", nil); err != nil || chain[0].DNSNames[0] != acmeDomain {
		t.Errorf("SNI PROXY.acme.test.: err %v, want the same certificate", err)
	}

	// Plain HTTP: 308 to the same host on the TLS port, path and query
	// kept; unknown hosts get 421.
	noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("POST", "http://"+w.httpAddr+"/hr/employees?x=1&y=%20", strings.NewReader("{}"))
	req.Host = acmeDomain + ":" + strconv.Itoa(w.httpPort)
	res, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	want := "https://" + acmeDomain + ":" + strconv.Itoa(w.tlsPort) + "/hr/employees?x=1&y=%20"
	if res.StatusCode != http.StatusPermanentRedirect || res.Header.Get("Location") != want {
		t.Errorf("HTTP POST: got %d Location %q, want 308 %q", res.StatusCode, res.Header.Get("Location"), want)
	}
	req, _ = http.NewRequest("GET", "http://"+w.httpAddr+"/hr/employees", nil)
	req.Host = "other.acme.test"
	if res, err := noFollow.Do(req); err != nil || res.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("HTTP for an unknown host: got %v %v, want 421", res, err)
	} else {
		res.Body.Close()
	}

	// 50 handshakes for names that are not configured, plus no SNI: all
	// refused, none starts an order.
	before := w.pebble.Orders()
	start = time.Now()
	for i := range 50 {
		sni := randomName(t)
		if i%10 == 0 {
			sni = "" // dialing an IP address sends no SNI
		}
		if _, err := w.handshake(t, sni, nil); err == nil {
			t.Fatalf("handshake with SNI %q succeeded, want refused", sni)
		}
	}
	t.Logf("50 refused handshakes in %v", time.Since(start).Round(time.Millisecond))
	if n := w.pebble.Orders(); n != before {
		t.Errorf("Pebble orders went from %d to %d after 50 unknown names, want no new order", before, n)
	}
	w.p.waitFor(t, "a refused handshake at warn", func(l map[string]any) bool {
		return l["msg"] == "tls handshake refused" && l["level"] == "WARN"
	})
}

func randomName(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b) + ".example.org"
}

// TestACMEE2E_HTTP01 obtains the certificate through HTTP-01 on the HTTP
// listener: Pebble's TLS-ALPN-01 port is closed, so autocert's first
// order fails and its second, with HTTP-01, succeeds. Pebble sends
// "Host: name:port", which the challenge handler must accept.
func TestACMEE2E_HTTP01(t *testing.T) {
	w := startACMEWorld(t, acmeSetup{httpOnly: true, logLevel: "debug"})
	start := time.Now()
	if _, err := w.handshake(t, acmeDomain, w.pebble.Roots); err != nil {
		t.Fatalf("first handshake: %v", err)
	}
	t.Logf("HTTP-01 (after a failed TLS-ALPN-01 order): first handshake to certificate in %v", time.Since(start).Round(time.Millisecond))
	if n := w.pebble.Orders(); n != 2 {
		t.Errorf("Pebble orders = %d, want 2 (TLS-ALPN-01 failed, then HTTP-01)", n)
	}
	w.p.waitFor(t, "an HTTP-01 validation request with the port in Host", func(l map[string]any) bool {
		return l["msg"] == "http-01 challenge request" && l["host"] == acmeDomain+":"+strconv.Itoa(w.httpPort) && l["status"] == float64(200)
	})
	w.certificateStored(t, "obtained")
	w.checkServing(t)
}

// TestACMEE2E_RenewalIsLogged issues 8-second certificates: autocert
// renews in the background at about a third of the lifetime left, and the
// renewal shows in the log as "certificate stored" with event renewed.
func TestACMEE2E_RenewalIsLogged(t *testing.T) {
	w := startACMEWorld(t, acmeSetup{validity: 8 * time.Second})
	if _, err := w.handshake(t, acmeDomain, w.pebble.Roots); err != nil {
		t.Fatalf("first handshake: %v", err)
	}
	first := w.certificateStored(t, "obtained")
	renewed := w.certificateStored(t, "renewed")
	if first["serial"] == renewed["serial"] {
		t.Errorf("renewed certificate has the same serial %v", first["serial"])
	}
	if n := w.pebble.Orders(); n < 2 {
		t.Errorf("Pebble orders = %d, want at least 2", n)
	}
	chain, err := w.handshake(t, acmeDomain, w.pebble.Roots)
	if err != nil {
		t.Fatalf("handshake after renewal: %v", err)
	}
	if got := chain[0].SerialNumber.Text(16); got != renewed["serial"] {
		t.Errorf("served serial %s, want the renewed %v", got, renewed["serial"])
	}
}

// TestACMEE2E_ExternalAccountBinding registers with a CA that requires
// EAB, using eab_kid and eab_hmac (from env()).
func TestACMEE2E_ExternalAccountBinding(t *testing.T) {
	w := startACMEWorld(t, acmeSetup{eab: true})
	if _, err := w.handshake(t, acmeDomain, w.pebble.Roots); err != nil {
		t.Fatalf("first handshake with EAB: %v", err)
	}
	w.certificateStored(t, "obtained")
}

// TestACMEE2E_CacheSurvivesRestart restarts gatehouse on the same cache
// directory: the certificate is served from the cache without a new order.
func TestACMEE2E_CacheSurvivesRestart(t *testing.T) {
	w := startACMEWorld(t, acmeSetup{})
	chain, err := w.handshake(t, acmeDomain, w.pebble.Roots)
	if err != nil {
		t.Fatal(err)
	}
	w.certificateStored(t, "obtained")
	if err := w.p.stop(t); err != nil {
		t.Fatalf("stop: %v", err)
	}
	cfg := w.p.cmd.Args[len(w.p.cmd.Args)-1]
	w.p = startBinary(t, "run", "--config", cfg) // stopped by startACMEWorld's cleanup
	w.tlsAddr = w.p.tls
	again, err := w.handshake(t, acmeDomain, w.pebble.Roots)
	if err != nil {
		t.Fatal(err)
	}
	if again[0].SerialNumber.Cmp(chain[0].SerialNumber) != 0 {
		t.Errorf("after restart serial %x, want the cached %x", again[0].SerialNumber, chain[0].SerialNumber)
	}
	if n := w.pebble.Orders(); n != 1 {
		t.Errorf("Pebble orders = %d after a restart, want still 1", n)
	}
	w.checkExpiryMetric(t, chain[0].NotAfter) // read from the cache at start
	if _, err := os.Stat(w.cacheDir); err != nil {
		t.Fatal(err)
	}
}

// checkExpiryMetric waits until /metrics reports notAfter as the expiry of
// acmeDomain's certificate.
func (w *acmeWorld) checkExpiryMetric(t *testing.T, notAfter time.Time) {
	t.Helper()
	want := float64(notAfter.Unix())
	waitSample(t, w.p.admin, `gatehouse_tls_certificate_expiry_timestamp_seconds{name="`+acmeDomain+`"}`, func(v float64) bool { return v == want })
}
