package acme

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/settings"
)

// logBuffer collects JSON log lines from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the records whose msg is msg.
func (l *logBuffer) lines(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(l.b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func newLogger() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// testCert makes a self-signed ECDSA certificate for names (DNS names or
// IP addresses) valid from notBefore to notAfter, as PEM.
func testCert(t *testing.T, names []string, notBefore, notAfter time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// writePair writes a certificate for names, valid for a day, to
// cert.pem and key.pem in dir, replacing them atomically.
func writePair(t *testing.T, dir string, names ...string) (certFile, keyFile string) {
	t.Helper()
	c, k := testCert(t, names, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeAtomic(t, certFile, c)
	writeAtomic(t, keyFile, k)
	return certFile, keyFile
}

func writeAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// fakeCA is an HTTPS server standing in for an ACME directory. It counts
// every request and answers 403, so nothing is ever issued.
type fakeCA struct {
	srv      *httptest.Server
	requests atomic.Int64
	roots    *x509.CertPool
}

func newFakeCA(t *testing.T) *fakeCA {
	t.Helper()
	ca := &fakeCA{}
	ca.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ca.requests.Add(1)
		http.Error(w, "fake CA", http.StatusForbidden) // not retried, unlike 5xx
	}))
	t.Cleanup(ca.srv.Close)
	ca.roots = x509.NewCertPool()
	ca.roots.AddCert(ca.srv.Certificate())
	return ca
}

// acmeSpec is an ACME spec for the given domains against ca, with a
// fresh cache directory.
func acmeSpec(t *testing.T, ca *fakeCA, domains ...string) *settings.TLS {
	return &settings.TLS{
		HSTSMaxAge: time.Hour,
		ACME: &settings.ACME{
			Domains:      domains,
			DirectoryURL: ca.srv.URL + "/directory",
			CacheDir:     filepath.Join(t.TempDir(), "acme"),
			CARoots:      ca.roots,
		},
	}
}

func newManager(t *testing.T, spec *settings.TLS, log *slog.Logger) *Manager {
	t.Helper()
	m, err := New(spec, Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}
