package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/acme"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/proxy"
	"github.com/gatehouse-dev/gatehouse/settings"
)

// TestHTTPListener_ChallengeErrorsAreGeneric: with production = true, the
// plain-HTTP listener's error answers (an unknown HTTP-01 token, a
// challenge for a name not in domains, a host not served) are gatehouse's
// generic JSON errors, never autocert's text, which names the library
// (issue 18, point 17). The handler is wired as run wires it; nothing is
// asked of the CA.
func TestHTTPListener_ChallengeErrorsAreGeneric(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gatehouse.hcl")
	writeFile(t, cfg, "server {\n  production = true\n}\n")
	snap, _, _, diags := config.LoadSnapshot(cfg)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	m, err := acme.New(&settings.TLS{ACME: &settings.ACME{
		Domains:      []string{"api.example.test"},
		DirectoryURL: "https://127.0.0.1:9/directory", // never contacted
		CacheDir:     filepath.Join(dir, "acme"),
	}}, acme.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	access := &lockedBuffer{}
	srv := proxy.New(proxy.Options{Logger: slog.New(slog.DiscardHandler), AccessLog: access})
	defer srv.Close()
	srv.Load(snap, nil)
	ts := httptest.NewServer(m.HTTPHandler("443", srv.WriteError))
	defer ts.Close()

	for _, c := range []struct {
		host, path string
		status     int
		reason     string
	}{
		{"api.example.test", "/.well-known/acme-challenge/unknown", 404, "acme_challenge_unknown"},
		{"api.example.test:80", "/.well-known/acme-challenge/unknown", 404, "acme_challenge_unknown"},
		{"evil.example", "/.well-known/acme-challenge/unknown", 403, "acme_challenge_refused"},
		{"evil.example", "/hr", 421, "misdirected_request"},
	} {
		req, _ := http.NewRequest("GET", ts.URL+c.path, nil)
		req.Host = c.host
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var e map[string]any
		if res.StatusCode != c.status || json.Unmarshal(body, &e) != nil || e["status"] != float64(c.status) ||
			res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: got %d %q (%s), want %d with gatehouse's JSON error", c.host, c.path, res.StatusCode, body, res.Header.Get("Content-Type"), c.status)
		}
		if strings.Contains(string(body), "autocert") || strings.Contains(string(body), "acme") {
			t.Errorf("%s %s: body %q names the ACME library", c.host, c.path, body)
		}
		if _, ok := e["reason"]; ok {
			t.Errorf("%s %s: production body %q carries the reason", c.host, c.path, body)
		}
		if !strings.Contains(access.String(), `"reason":"`+c.reason+`"`) {
			t.Errorf("%s %s: no access line with reason %s:\n%s", c.host, c.path, c.reason, access.String())
		}
	}
}
