package acme

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/settings"
)

func served(t *testing.T, m *Manager) string {
	t.Helper()
	c, err := m.TLSConfig().GetCertificate(&tls.ClientHelloInfo{ServerName: "anything"})
	if err != nil {
		t.Fatal(err)
	}
	return c.Leaf.SerialNumber.String()
}

// TestStaticCertificate_Reload: a new pair replaces the old one; an
// unchanged pair is not reloaded; a pair that does not match (half-way
// through a rotation) leaves the previous certificate serving.
func TestStaticCertificate_Reload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writePair(t, dir, "api.example.test")
	log, logs := newLogger()
	m := newManager(t, &settings.TLS{CertFile: certFile, KeyFile: keyFile}, log)
	first := served(t, m)
	if !m.KnownHost("api.example.test") || m.KnownHost("other.example.test") {
		t.Error("KnownHost does not follow the certificate's names")
	}
	if got := m.CertificateFiles(); len(got) != 2 || got[0] != certFile || got[1] != keyFile {
		t.Errorf("CertificateFiles = %v", got)
	}

	if changed, err := m.ReloadCertificate(); changed || err != nil {
		t.Errorf("reload of the same files: changed=%v err=%v, want false, nil", changed, err)
	}
	writePair(t, dir, "api.example.test", "www.example.test")
	if changed, err := m.ReloadCertificate(); !changed || err != nil {
		t.Fatalf("reload of new files: changed=%v err=%v", changed, err)
	}
	second := served(t, m)
	if second == first || !m.KnownHost("www.example.test") {
		t.Fatal("the new certificate is not served")
	}

	// A new certificate with the old key: mismatched.
	c, _ := testCert(t, []string{"api.example.test"}, time.Now(), time.Now().Add(time.Hour))
	writeAtomic(t, certFile, c)
	if _, err := m.ReloadCertificate(); err == nil {
		t.Fatal("mismatched pair loaded")
	}
	if served(t, m) != second {
		t.Error("a failed reload changed the certificate in service")
	}
	if len(logs.lines("certificate files not loaded; the previous certificate keeps serving")) != 1 {
		t.Error("the failed reload was not logged")
	}
	if len(logs.lines("certificate loaded")) != 2 {
		t.Errorf("got %d 'certificate loaded' lines, want 2", len(logs.lines("certificate loaded")))
	}
}

func TestStaticCertificate_Errors(t *testing.T) {
	dir := t.TempDir()
	if _, err := New(&settings.TLS{CertFile: filepath.Join(dir, "no.pem"), KeyFile: filepath.Join(dir, "no-key.pem")}, Options{}); err == nil {
		t.Error("New with missing files succeeded")
	}
	certFile, keyFile := writePair(t, dir, "api.example.test")
	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(&settings.TLS{CertFile: certFile, KeyFile: keyFile}, Options{}); err == nil {
		t.Error("New with a bad key succeeded")
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New(nil) succeeded")
	}
}

// TestStaticCertificate_ExpiredWarns: an expired certificate loads (the
// operator may be replacing it) with a warning.
func TestStaticCertificate_ExpiredWarns(t *testing.T) {
	dir := t.TempDir()
	c, k := testCert(t, []string{"api.example.test"}, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	writeAtomic(t, filepath.Join(dir, "c.pem"), c)
	writeAtomic(t, filepath.Join(dir, "k.pem"), k)
	log, logs := newLogger()
	newManager(t, &settings.TLS{CertFile: filepath.Join(dir, "c.pem"), KeyFile: filepath.Join(dir, "k.pem")}, log)
	if len(logs.lines("the loaded certificate is not valid now; clients will refuse it")) != 1 {
		t.Error("no warning for an expired certificate")
	}
}
