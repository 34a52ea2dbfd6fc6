package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/settings"
)

const staticTLSConfig = `
server {
  listen       = "127.0.0.1:0"
  tls_listen   = "127.0.0.1:0"
  admin_listen = "127.0.0.1:0"
}

tls {
  cert_file               = "cert.pem"
  key_file                = "key.pem"
  hsts_max_age            = "1h"
  hsts_include_subdomains = true
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
    verbs = ["GET", "POST"]
  }
}

sessions {
  signing_key = "tls-e2e-signing-key-0123456789abcdef-0123456789"
}

user "alice" {
  %s
  roles = { portal = "reader" }
}
`

// testCA issues server certificates.
type testCA struct {
	cert  *x509.Certificate
	key   *ecdsa.PrivateKey
	roots *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gatehouse test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return &testCA{cert: cert, key: key, roots: roots}
}

// issue writes a new certificate with the given serial for
// api.example.test to dir/cert.pem and its key to dir/key.pem (issueFor).
func (ca *testCA) issue(t *testing.T, dir string, serial int64, mismatched bool) {
	t.Helper()
	ca.issueFor(t, dir, serial, mismatched, "api.example.test")
}

// issueFor writes a new certificate with the given serial for names (the
// first is also the subject's common name) to dir/cert.pem and its key to
// dir/key.pem (each replaced atomically, key first). With mismatched,
// key.pem is left alone, so the pair does not match.
func (ca *testCA) issueFor(t *testing.T, dir string, serial int64, mismatched bool, names ...string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: names[0]},
		DNSNames:  names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	put := func(name string, blk *pem.Block) {
		tmp := filepath.Join(dir, "."+name+".tmp")
		if err := os.WriteFile(tmp, pem.EncodeToMemory(blk), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if !mismatched {
		put("key.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	}
	put("cert.pem", &pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestTLSE2E_StaticCertificate serves the proxy over HTTPS from a static
// certificate: HTTP/2 and HTTP/1.1 with Request.TLS set, HSTS, the
// Content-Length + Transfer-Encoding refusal still in force over TLS,
// redirects on the HTTP listener, and a certificate rotated on disk picked
// up without a reload, while a mismatched pair is refused and the
// previous certificate keeps serving.
func TestTLSE2E_StaticCertificate(t *testing.T) {
	var mu sync.Mutex
	var protos []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		protos = append(protos, r.Header.Get("X-Forwarded-Proto"))
		mu.Unlock()
		_, _ = io.WriteString(w, "hello over tls")
	}))
	defer up.Close()
	dir := t.TempDir()
	ca := newTestCA(t)
	ca.issue(t, dir, 100, false)
	hash := runCmdStdin(t, "alice-pw\n", "hash-password", "-memory", "1024", "-time", "1", "-threads", "1")
	p := startWithConfig(t, dir, fmt.Sprintf(staticTLSConfig, up.URL, hashKey("k1"), strings.TrimSpace(hash)))
	defer func() { _ = p.stop(t) }()
	if p.tls == "" {
		t.Fatal("no tls listener logged")
	}
	// The certificate's expiry, per name, in the metrics.
	exp, ok := sample(scrape(t, p.admin), `gatehouse_tls_certificate_expiry_timestamp_seconds{name="api.example.test"}`)
	if now := float64(time.Now().Unix()); !ok || exp < now+23*3600 || exp > now+25*3600 {
		t.Errorf("gatehouse_tls_certificate_expiry_timestamp_seconds of api.example.test = %v (present %v), want about 24 h from now (the test CA's NotAfter)", exp, ok)
	}

	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", p.tls)
	}
	for _, h2 := range []bool{true, false} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.roots}, DialContext: dial, ForceAttemptHTTP2: h2}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		req, _ := http.NewRequest("GET", "https://api.example.test/hr/employees", nil)
		req.Header.Set("X-API-Key", "k1")
		res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("http2=%v: %v", h2, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(body) != "hello over tls" {
			t.Errorf("http2=%v: got %d %q", h2, res.StatusCode, body)
		}
		if got := res.Header.Get("Strict-Transport-Security"); got != "max-age=3600; includeSubDomains" {
			t.Errorf("HSTS %q", got)
		}
		tr.CloseIdleConnections()
	}
	// An error response from gatehouse itself carries HSTS too.
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.roots}, DialContext: dial}
	if res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://api.example.test/hr/employees"); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
		if res.StatusCode != 401 || res.Header.Get("Strict-Transport-Security") == "" {
			t.Errorf("no key: got %d with HSTS %q, want 401 with HSTS", res.StatusCode, res.Header.Get("Strict-Transport-Security"))
		}
	}
	// A login over HTTPS sets a Secure session cookie (Request.TLS is set).
	req, _ := http.NewRequest("POST", "https://api.example.test/auth/login", strings.NewReader(`{"username":"alice","password":"alice-pw"}`))
	req.Header.Set("X-API-Key", "k1")
	req.Header.Set("Content-Type", "application/json")
	if res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
		cookie := res.Header.Get("Set-Cookie")
		if res.StatusCode != 200 || !strings.Contains(cookie, "; Secure") || !strings.Contains(cookie, "HttpOnly") {
			t.Errorf("login over HTTPS: got %d Set-Cookie %q, want 200 and a Secure, HttpOnly cookie", res.StatusCode, cookie)
		}
	}
	tr.CloseIdleConnections()
	mu.Lock()
	if len(protos) != 2 || protos[0] != "https" || protos[1] != "https" {
		t.Errorf("upstream saw X-Forwarded-Proto %q, want [https https]", protos)
	}
	mu.Unlock()

	// Content-Length with Transfer-Encoding over TLS (HTTP/1.1): refused.
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", p.tls, &tls.Config{RootCAs: ca.roots, ServerName: "api.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(tc, "POST /hr/employees HTTP/1.1\r\nHost: api.example.test\r\nX-API-Key: k1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
	resp, _ := io.ReadAll(tc)
	tc.Close()
	if !strings.HasPrefix(string(resp), "HTTP/1.1 400 ") {
		t.Errorf("Content-Length with Transfer-Encoding over TLS: got %.40q, want 400", resp)
	}

	// The HTTP listener redirects to the TLS port.
	_, tlsPort, _ := net.SplitHostPort(p.tls)
	req, _ = http.NewRequest("GET", "http://"+p.public+"/hr/employees?a=b", nil)
	req.Host = "api.example.test"
	noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if res, err := noFollow.Do(req); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
		if want := "https://api.example.test:" + tlsPort + "/hr/employees?a=b"; res.StatusCode != 308 || res.Header.Get("Location") != want {
			t.Errorf("redirect: got %d %q, want 308 %q", res.StatusCode, res.Header.Get("Location"), want)
		}
	}

	serial := func() int64 {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", p.tls, &tls.Config{RootCAs: ca.roots, ServerName: "api.example.test"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	waitSerial := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for serial() != want {
			if time.Now().After(deadline) {
				t.Fatalf("still serving serial %d after 10s, want %d", serial(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if s := serial(); s != 100 {
		t.Fatalf("serial %d, want 100", s)
	}
	// Rotate on disk: picked up by the file watcher, no reload needed.
	ca.issue(t, dir, 101, false)
	waitSerial(101)
	p.waitFor(t, "certificate reloaded (file)", func(l map[string]any) bool {
		return l["msg"] == "certificate reloaded" && l["trigger"] == "file"
	})
	// A mismatched pair is refused and 101 keeps serving, on a file change
	// and on SIGHUP alike.
	ca.issue(t, dir, 102, true)
	p.waitFor(t, "a refused certificate pair", func(l map[string]any) bool {
		return l["msg"] == "certificate files not loaded; the previous certificate keeps serving"
	})
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitFor(t, "a second refusal after SIGHUP", func(l map[string]any) bool {
		n := 0
		for _, l := range p.logs() {
			if l["msg"] == "certificate files not loaded; the previous certificate keeps serving" {
				n++
			}
		}
		return n >= 2
	})
	if s := serial(); s != 101 {
		t.Errorf("serial %d after a mismatched pair, want 101", s)
	}
	// Fixing the pair: picked up again.
	ca.issue(t, dir, 103, false)
	waitSerial(103)
}

// TestRestartOnly_TLS: tls_listen and any tls setting need a restart.
func TestRestartOnly_TLS(t *testing.T) {
	a := settings.Listeners{Listen: ":8080", TLSListen: ":8443", TLS: &settings.TLS{
		HSTSMaxAge: time.Hour, ACME: &settings.ACME{Domains: []string{"a.example.com"}, CacheDir: "/c"},
	}}
	b := a
	b.TLS = a.TLS.Clone()
	b.TLS.Origin = "elsewhere.hcl:1,1"
	if got := restartOnly(a, b); len(got) != 0 {
		t.Errorf("same TLS: got %v", got)
	}
	b.TLSListen = ":443"
	b.TLS.ACME.Domains = append(b.TLS.ACME.Domains, "b.example.com")
	if got := fmt.Sprint(restartOnly(a, b)); got != "[tls_listen tls]" {
		t.Errorf("got %s, want [tls_listen tls]", got)
	}
	b = a
	b.TLS = nil
	if got := fmt.Sprint(restartOnly(a, b)); got != "[tls]" {
		t.Errorf("TLS removed: got %s, want [tls]", got)
	}
}

// TestDocs_ACMEExampleIsValid validates examples/acme. Its cache_dir is
// under /var/lib, which validate requires to be writable (it creates
// nothing): only root can check that.
func TestDocs_ACMEExampleIsValid(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("examples/acme uses /var/lib/gatehouse/acme: validating it needs root")
	}
	t.Setenv("SHOP_KEY_SHA256", hashKey("shop"))
	t.Setenv("ORDERS_API_URL", "http://127.0.0.1:9000")
	_, statErr := os.Stat("/var/lib/gatehouse")
	code, stdout, stderr := runCmd(t, ".", "validate", "--config", "../../examples/acme")
	if code != 0 {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat("/var/lib/gatehouse"); os.IsNotExist(statErr) && err == nil {
		t.Error("validate created /var/lib/gatehouse")
	}
}
