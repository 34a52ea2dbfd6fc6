package acme

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/acme/autocert"

	"github.com/gatehouse-dev/gatehouse/store/memstore"
)

// TestLoggingCache logs each stored certificate, obtained then renewed,
// and nothing for account keys or challenge material. autocert.DirCache
// creates its directory 0700 and its files 0600.
func TestLoggingCache(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	log, logs := newLogger()
	c := &loggingCache{Certificates: autocert.DirCache(dir), log: log}
	ctx := context.Background()
	put := func(key string) {
		cert, k := testCert(t, []string{"api.example.test"}, time.Now(), time.Now().Add(time.Hour))
		if err := c.Put(ctx, key, append(k, cert...)); err != nil {
			t.Fatal(err)
		}
	}
	for _, key := range []string{"acme_account+key", "api.example.test+token", "tok123+http-01"} {
		put(key)
	}
	if got := logs.lines("certificate stored"); len(got) != 0 {
		t.Fatalf("logged %v for account and challenge keys, want nothing", got)
	}
	put("api.example.test")
	put("api.example.test")
	got := logs.lines("certificate stored")
	if len(got) != 2 || got[0]["event"] != "obtained" || got[1]["event"] != "renewed" {
		t.Fatalf("got %v, want obtained then renewed", got)
	}
	if names, _ := got[0]["names"].([]any); len(names) != 1 || names[0] != "api.example.test" || got[0]["not_after"] == nil {
		t.Errorf("log line %v, want names and not_after", got[0])
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("cache dir mode %v, want 0700", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		info, _ := e.Info()
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", e.Name(), info.Mode().Perm())
		}
	}
}

func TestCacheSubdir(t *testing.T) {
	for url, want := range map[string]string{
		"https://acme-v02.api.letsencrypt.org/directory":         "acme-v02.api.letsencrypt.org-directory",
		"https://acme-staging-v02.api.letsencrypt.org/directory": "acme-staging-v02.api.letsencrypt.org-directory",
		"https://127.0.0.1:14000/dir":                            "127.0.0.1-14000-dir",
		"https://[::1]:14000/dir":                                "1--14000-dir",
		"https://ca.example/../../etc":                           "ca.example-..-..-etc",
		"":                                                       "default",
	} {
		if got := cacheSubdir(url); got != want {
			t.Errorf("cacheSubdir(%q) = %q, want %q", url, got, want)
		}
	}
}

// TestNew_CertificatesStore: a given store replaces the cache directory
// (which is then not created), under a key prefix per ACME directory, and
// the expiry check reads from it.
func TestNew_CertificatesStore(t *testing.T) {
	ca := newFakeCA(t)
	spec := acmeSpec(t, ca, "old.example.test")
	certs := memstore.NewCertificates()
	log, logs := newLogger()
	m, err := New(spec, Options{Logger: log, Certificates: certs})
	if err != nil {
		t.Fatal(err)
	}
	_ = m.Close() // this test runs the expiry check itself
	if _, err := os.Stat(spec.ACME.CacheDir); !os.IsNotExist(err) {
		t.Errorf("cache_dir created with a store given: %v", err)
	}
	now := time.Now()
	c, k := testCert(t, []string{"old.example.test"}, now.Add(-time.Hour), now.Add(5*time.Minute))
	if err := m.auto.Cache.Put(context.Background(), "old.example.test", append(k, c...)); err != nil {
		t.Fatal(err)
	}
	key := cacheSubdir(spec.ACME.DirectoryURL) + "/old.example.test"
	if _, err := certs.Get(context.Background(), key); err != nil {
		t.Errorf("store has no %q: %v", key, err)
	}
	if len(logs.lines("certificate stored")) != 1 {
		t.Error("storing a certificate in the store was not logged")
	}
	m.checkExpiry(now)
	if len(logs.lines("certificate is close to expiry and has not been renewed; check the logs for ACME errors and that ports 80/443 reach gatehouse")) != 1 {
		t.Error("the expiry check did not read the store")
	}
}
