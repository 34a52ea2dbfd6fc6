package acme

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestGetCertificate_UnconfiguredNamesNeverReachTheCA is the rate-limit
// guard: a handshake for a name that is not configured, without SNI, with
// an IP address, or a TLS-ALPN-01 probe without a pending challenge fails
// at once and sends nothing to the CA. A configured name (any case,
// trailing dot) does reach it, which shows the zero count means something.
func TestGetCertificate_UnconfiguredNamesNeverReachTheCA(t *testing.T) {
	ca := newFakeCA(t)
	log, logs := newLogger()
	m := newManager(t, acmeSpec(t, ca, "api.example.test"), log)
	cfg := m.TLSConfig()

	cases := []struct {
		sni   string
		alpn  []string
		want  error
		quiet bool // not logged as a refused handshake
	}{
		{sni: "", want: ErrNoServerName},
		{sni: "127.0.0.1", want: ErrUnknownName},
		{sni: "::1", want: ErrUnknownName},
		{sni: "other.example.test", want: ErrUnknownName},
		{sni: "example.test", want: ErrUnknownName},
		{sni: "xapi.example.test", want: ErrUnknownName},
		{sni: "api.example.test.evil.example", want: ErrUnknownName},
		{sni: "*.example.test", want: ErrUnknownName},
		{sni: "api.example.test", alpn: []string{"acme-tls/1"}, quiet: true},   // no pending challenge
		{sni: "other.example.test", alpn: []string{"acme-tls/1"}, quiet: true}, // not ours either
	}
	for _, c := range cases {
		start := time.Now()
		_, err := cfg.GetCertificate(&tls.ClientHelloInfo{ServerName: c.sni, SupportedProtos: c.alpn})
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("SNI %q ALPN %v: got %v, want %v", c.sni, c.alpn, err, c.want)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("SNI %q: refused after %v, want at once", c.sni, d)
		}
	}
	// The same for a real handshake by IP address (no SNI at all).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl := NewListener(ln, cfg, ListenerOptions{})
	defer tl.Close()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err == nil {
		c.Close()
		t.Error("handshake without SNI succeeded, want refused")
	}
	if n := ca.requests.Load(); n != 0 {
		t.Fatalf("the CA got %d requests for names that are not configured, want 0", n)
	}
	refused := logs.lines("tls handshake refused")
	if len(refused) != 9 { // 8 cases + the real handshake; ALPN probes are not warnings
		t.Errorf("got %d 'tls handshake refused' lines, want 9", len(refused))
	}
	for _, l := range refused {
		if l["level"] != "WARN" {
			t.Errorf("refused handshake logged at %v, want WARN", l["level"])
		}
	}

	_, err = cfg.GetCertificate(&tls.ClientHelloInfo{ServerName: "API.Example.TEST."})
	if err == nil {
		t.Fatal("configured name: got a certificate from a CA that only fails")
	}
	if ca.requests.Load() == 0 {
		t.Error("configured name: the CA got no request")
	}
	if got := logs.lines("no certificate for a configured domain"); len(got) != 1 || got[0]["level"] != "WARN" || got[0]["sni"] != "API.Example.TEST." {
		t.Errorf("failure log lines %v, want one WARN with the SNI", got)
	}
}

func TestHostPolicy(t *testing.T) {
	m := newManager(t, acmeSpec(t, newFakeCA(t), "api.example.test", "www.example.test"), nil)
	for host, ok := range map[string]bool{
		"api.example.test":     true,
		"WWW.Example.Test":     true,
		"api.example.test.":    true,
		"example.test":         false,
		"api.example.test:443": false, // callers strip ports
		"":                     false,
		"127.0.0.1":            false,
	} {
		if err := m.hostPolicy(context.Background(), host); (err == nil) != ok {
			t.Errorf("hostPolicy(%q) = %v, want allowed=%v", host, err, ok)
		}
		if got := m.KnownHost(host); got != ok {
			t.Errorf("KnownHost(%q) = %v, want %v", host, got, ok)
		}
	}
}

// TestNew_CacheDirIsPrivate: New creates the cache directory and the
// subdirectory of the CA with mode 0700, and warns about an existing
// directory that others can read.
func TestNew_CacheDirIsPrivate(t *testing.T) {
	ca := newFakeCA(t)
	spec := acmeSpec(t, ca, "api.example.test")
	newManager(t, spec, nil)
	for _, d := range []string{spec.ACME.CacheDir, filepath.Join(spec.ACME.CacheDir, cacheSubdir(spec.ACME.DirectoryURL))} {
		st, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, want 0700", d, st.Mode().Perm())
		}
	}

	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	spec = acmeSpec(t, ca, "api.example.test")
	spec.ACME.CacheDir = open
	log, logs := newLogger()
	newManager(t, spec, log)
	if len(logs.lines("acme cache directory is open to other users; it holds private keys (chmod 700)")) != 1 {
		t.Error("no warning about a cache directory with mode 0755")
	}

	if os.Geteuid() != 0 { // root may write anywhere
		ro := filepath.Join(t.TempDir(), "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		spec = acmeSpec(t, ca, "api.example.test")
		spec.ACME.CacheDir = filepath.Join(ro, "acme")
		if _, err := New(spec, Options{}); err == nil {
			t.Error("New with an unwritable cache_dir succeeded")
		}
	}
}

// TestCheckExpiry warns about a cached certificate with less than a sixth
// of its lifetime left, and not about a fresh one.
func TestCheckExpiry(t *testing.T) {
	log, logs := newLogger()
	m := newManager(t, acmeSpec(t, newFakeCA(t), "old.example.test", "new.example.test"), log)
	_ = m.Close() // stop the background check; this test calls it itself
	now := time.Now()
	for name, left := range map[string]time.Duration{"old.example.test": 5 * time.Minute, "new.example.test": 50 * time.Minute} {
		c, k := testCert(t, []string{name}, now.Add(left-time.Hour), now.Add(left))
		if err := m.cache.Put(context.Background(), name, append(k, c...)); err != nil {
			t.Fatal(err)
		}
	}
	m.checkExpiry(now)
	got := logs.lines("certificate is close to expiry and has not been renewed; check the logs for ACME errors and that ports 80/443 reach gatehouse")
	if len(got) != 1 {
		t.Fatalf("got %d expiry warnings, want 1: %v", len(got), got)
	}
	if names, _ := got[0]["names"].([]any); len(names) != 1 || names[0] != "old.example.test" {
		t.Errorf("warning for %v, want old.example.test", got[0]["names"])
	}
}

func TestLogLimiter(t *testing.T) {
	l := newLogLimiter(2, time.Minute)
	t0 := time.Unix(1000, 0)
	var allowed int
	for i := range 5 {
		if ok, _ := l.allow(t0.Add(time.Duration(i) * time.Second)); ok {
			allowed++
		}
	}
	if allowed != 2 {
		t.Errorf("allowed %d of 5 in one window, want 2", allowed)
	}
	ok, dropped := l.allow(t0.Add(time.Minute))
	if !ok || dropped != 3 {
		t.Errorf("next window: ok=%v dropped=%d, want true and 3", ok, dropped)
	}
}
