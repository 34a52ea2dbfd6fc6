package acme

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/acme/autocert"
)

// TestLoggingCache logs each stored certificate, obtained then renewed,
// and nothing for account keys or challenge material. autocert.DirCache
// creates its directory 0700 and its files 0600.
func TestLoggingCache(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	log, logs := newLogger()
	c := &loggingCache{Cache: autocert.DirCache(dir), log: log}
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
