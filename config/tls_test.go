package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// writeTestPair writes a self-signed certificate for api.example.com and
// its key as name.pem and name-key.pem in dir.
func writeTestPair(t *testing.T, dir, name string, notBefore, notAfter time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "api.example.com"},
		DNSNames:     []string{"api.example.com"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	for file, blk := range map[string]*pem.Block{
		name + ".pem":     {Type: "CERTIFICATE", Bytes: der},
		name + "-key.pem": {Type: "PRIVATE KEY", Bytes: kder},
	} {
		if err := os.WriteFile(filepath.Join(dir, file), pem.EncodeToMemory(blk), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// tlsTestDir returns a directory with cert.pem/cert-key.pem (valid),
// other.pem/other-key.pem, old.pem/old-key.pem (expired), a non-PEM file
// and an open (0755) directory.
func tlsTestDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	writeTestPair(t, dir, "cert", now.Add(-time.Hour), now.Add(24*time.Hour))
	writeTestPair(t, dir, "other", now.Add(-time.Hour), now.Add(24*time.Hour))
	writeTestPair(t, dir, "old", now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	if err := os.WriteFile(filepath.Join(dir, "notpem.txt"), []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "open"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "private"), 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// acmeBlock wraps attribute lines in tls { acme { … } } with domains and
// cache_dir unless the lines set them.
func acmeBlock(lines ...string) string {
	body := strings.Join(lines, "\n")
	if !strings.Contains(body, "domains") {
		body += "\ndomains = [\"api.example.com\"]"
	}
	if !strings.Contains(body, "cache_dir") {
		body += "\ncache_dir = \"private\""
	}
	return "tls {\n  acme {\n" + body + "\n  }\n}\n"
}

func TestTLS_Validation(t *testing.T) {
	cases := []struct {
		name     string
		src      string
		errors   []string // error summaries, sorted
		warnings []string
	}{
		{"acme minimal", acmeBlock(), nil, nil},
		{"acme full", acmeBlock(`email = "ops@example.com"`, `domains = ["api.example.com", "WWW.example.com."]`,
			`directory = "https://acme-staging-v02.api.letsencrypt.org/directory"`, `ca_roots = "cert.pem"`,
			`eab_kid = "kid-1"`, `eab_hmac = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"`), nil, nil},
		{"static", "tls {\n cert_file = \"cert.pem\"\n key_file = \"cert-key.pem\"\n}\n", nil, nil},
		{"static expired", "tls {\n cert_file = \"old.pem\"\n key_file = \"old-key.pem\"\n}\n", nil, []string{summaryCertificateNotValid}},
		{"static key mismatch", "tls {\n cert_file = \"cert.pem\"\n key_file = \"other-key.pem\"\n}\n", []string{summaryInvalidCertificate}, nil},
		{"static cert missing", "tls {\n cert_file = \"nope.pem\"\n key_file = \"cert-key.pem\"\n}\n", []string{summaryUnreadableFile}, nil},
		{"static key missing", "tls {\n cert_file = \"cert.pem\"\n key_file = \"nope.pem\"\n}\n", []string{summaryUnreadableFile}, nil},
		{"static not PEM", "tls {\n cert_file = \"notpem.txt\"\n key_file = \"cert-key.pem\"\n}\n", []string{summaryInvalidCertificate}, nil},
		{"cert_file only", "tls {\n cert_file = \"cert.pem\"\n}\n", []string{summaryMissingCertificate}, nil},
		{"key_file only", "tls {\n key_file = \"cert-key.pem\"\n}\n", []string{summaryMissingCertificate}, nil},
		{"empty tls", "tls {\n}\n", []string{summaryMissingCertificate}, nil},
		{"both modes", "tls {\n cert_file = \"cert.pem\"\n key_file = \"cert-key.pem\"\n acme {\n domains = [\"api.example.com\"]\n cache_dir = \"private\"\n }\n}\n", []string{summaryConflictingTLS}, nil},
		{"two acme blocks", "tls {\n acme {\n domains = [\"a.example.com\"]\n cache_dir = \"private\"\n }\n acme {\n domains = [\"b.example.com\"]\n cache_dir = \"private\"\n }\n}\n", []string{summaryDuplicateACME}, nil},
		{"two tls blocks", acmeBlock() + acmeBlock(), []string{summaryDuplicateTLS}, nil},
		{"domains missing", "tls {\n acme {\n cache_dir = \"private\"\n }\n}\n", []string{"Missing required argument"}, nil},
		{"cache_dir missing", "tls {\n acme {\n domains = [\"api.example.com\"]\n }\n}\n", []string{"Missing required argument"}, nil},
		{"domains empty", acmeBlock(`domains = []`), []string{summaryEmptyList}, nil},
		{"wildcard", acmeBlock(`domains = ["*.example.com"]`), []string{summaryInvalidDomain}, nil},
		{"IPv4", acmeBlock(`domains = ["192.0.2.7"]`), []string{summaryInvalidDomain}, nil},
		{"IPv6", acmeBlock(`domains = ["[2001:db8::1]"]`), []string{summaryInvalidDomain}, nil},
		{"single label", acmeBlock(`domains = ["localhost"]`), []string{summaryInvalidDomain}, nil},
		{"unicode", acmeBlock(`domains = ["bücher.example"]`), []string{summaryInvalidDomain}, nil},
		{"punycode", acmeBlock(`domains = ["xn--bcher-kva.example"]`), nil, nil},
		{"underscore", acmeBlock(`domains = ["my_api.example.com"]`), []string{summaryInvalidDomain}, nil},
		{"leading hyphen", acmeBlock(`domains = ["-api.example.com"]`), []string{summaryInvalidDomain}, nil},
		{"empty label", acmeBlock(`domains = ["api..example.com"]`), []string{summaryInvalidDomain}, nil},
		{"long label", acmeBlock(`domains = ["` + strings.Repeat("a", 64) + `.example.com"]`), []string{summaryInvalidDomain}, nil},
		{"numeric TLD", acmeBlock(`domains = ["1.2.3"]`), []string{summaryInvalidDomain}, nil},
		{"empty name", acmeBlock(`domains = [""]`), []string{summaryInvalidDomain}, nil},
		{"duplicate after folding", acmeBlock(`domains = ["API.example.com", "api.example.com."]`), []string{summaryInvalidDomain}, nil},
		{"three bad names, three errors", acmeBlock(`domains = ["*.a.com", "b", "1.2.3.4"]`), []string{summaryInvalidDomain, summaryInvalidDomain, summaryInvalidDomain}, nil},
		{"directory http", acmeBlock(`directory = "http://acme.example.com/directory"`), []string{summaryInvalidURL}, nil},
		{"directory http loopback", acmeBlock(`directory = "http://127.0.0.1:14000/dir"`), nil, nil},
		{"directory ftp", acmeBlock(`directory = "ftp://acme.example.com/"`), []string{summaryInvalidURL}, nil},
		{"directory no host", acmeBlock(`directory = "https:///dir"`), []string{summaryInvalidURL}, nil},
		{"email", acmeBlock(`email = "ops"`), []string{summaryInvalidEmail}, nil},
		{"cache_dir is a file", acmeBlock(`cache_dir = "cert.pem"`), []string{summaryUnwritableDir}, nil},
		{"cache_dir under a file", acmeBlock(`cache_dir = "cert.pem/acme"`), []string{summaryUnwritableDir}, nil},
		{"cache_dir not yet there", acmeBlock(`cache_dir = "var/lib/acme"`), nil, nil},
		{"cache_dir open", acmeBlock(`cache_dir = "open"`), nil, []string{summaryOpenCacheDir}},
		{"cache_dir empty", acmeBlock(`cache_dir = ""`), []string{summaryEmptyValue}, nil},
		{"ca_roots missing", acmeBlock(`ca_roots = "nope.pem"`), []string{summaryUnreadableFile}, nil},
		{"ca_roots not PEM", acmeBlock(`ca_roots = "notpem.txt"`), []string{summaryUnreadableFile}, nil},
		{"eab_kid alone", acmeBlock(`eab_kid = "kid-1"`), []string{summaryInvalidEAB}, nil},
		{"eab_hmac alone", acmeBlock(`eab_hmac = "zWND"`), []string{summaryInvalidEAB}, nil},
		{"eab_hmac not base64url", acmeBlock(`eab_kid = "kid-1"`, `eab_hmac = "not+base64/url!"`), []string{summaryInvalidEAB}, nil},
		{"eab_hmac padded", acmeBlock(`eab_kid = "kid-1"`, `eab_hmac = "zWND"`), nil, nil},
		{"hsts", "tls {\n hsts_max_age = \"0s\"\n hsts_include_subdomains = true\n" + strings.TrimPrefix(acmeBlock(), "tls {\n"), nil, nil},
		{"hsts fraction", "tls {\n hsts_max_age = \"1.5s\"\n" + strings.TrimPrefix(acmeBlock(), "tls {\n"), []string{summaryInvalidDuration}, nil},
		{"tls_listen without tls", "server {\n tls_listen = \":8443\"\n}\n", []string{summaryMissingTLS}, nil},
		{"tls_listen overlaps listen", "server {\n listen = \":8443\"\n tls_listen = \"127.0.0.1:8443\"\n}\n" + acmeBlock(), []string{summaryInvalidAddress}, nil},
		{"default tls_listen overlaps listen", "server {\n listen = \":8443\"\n}\n" + acmeBlock(), []string{summaryInvalidAddress}, nil},
		{"tls_listen overlaps admin_listen", "server {\n tls_listen = \"127.0.0.1:9901\"\n}\n" + acmeBlock(), []string{summaryInvalidAddress}, nil},
		{"tls_listen bad", "server {\n tls_listen = \"8443\"\n}\n" + acmeBlock(), []string{summaryInvalidAddress}, nil},
		{"unknown attribute", acmeBlock(`challenge = "dns-01"`), []string{"Unsupported argument"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := tlsTestDir(t)
			path := filepath.Join(dir, "tls.hcl")
			if err := os.WriteFile(path, []byte(c.src), 0o600); err != nil {
				t.Fatal(err)
			}
			_, diags := Load(path)
			var errs, warns []string
			for _, d := range diags {
				if d.Severity == hcl.DiagError {
					errs = append(errs, d.Summary)
				} else {
					warns = append(warns, d.Summary)
				}
				if d.Subject == nil || d.Subject.Filename != path {
					t.Errorf("diagnostic %q has no position in %s", d.Summary, path)
				}
			}
			slices.Sort(errs)
			if !slices.Equal(errs, c.errors) || !slices.Equal(warns, c.warnings) {
				t.Errorf("got errors %q warnings %q, want %q and %q\n%s", errs, warns, c.errors, c.warnings, diags.Error())
			}
		})
	}
}

// TestTLS_Spec checks what a valid tls block compiles to: folded domains,
// the default directory, absolute paths against the file's directory, the
// default tls_listen and HSTS; and that validate created nothing.
func TestTLS_Spec(t *testing.T) {
	dir := tlsTestDir(t)
	path := filepath.Join(dir, "tls.hcl")
	src := acmeBlock(`domains = ["API.Example.com.", "www.example.com"]`, `cache_dir = "state/acme"`, `eab_kid = "kid-1"`, `eab_hmac = "AQID"`)
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, rt, _, diags := LoadSnapshot(path)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	s := rt.Listeners
	if s.TLSListen != defaultTLSListen || s.TLS == nil || s.TLS.ACME == nil {
		t.Fatalf("server %+v, want tls_listen %q and ACME", s, defaultTLSListen)
	}
	a := s.TLS.ACME
	if !slices.Equal(a.Domains, []string{"api.example.com", "www.example.com"}) {
		t.Errorf("domains %q", a.Domains)
	}
	if a.DirectoryURL != defaultACMEDirectory || a.CacheDir != filepath.Join(dir, "state", "acme") {
		t.Errorf("directory %q cache_dir %q", a.DirectoryURL, a.CacheDir)
	}
	if a.EABKeyID != "kid-1" || string(a.EABKey) != "\x01\x02\x03" {
		t.Errorf("EAB %q %x", a.EABKeyID, a.EABKey)
	}
	if s.TLS.HSTSMaxAge != defaultHSTSMaxAge || s.TLS.HSTSIncludeSubdomains {
		t.Errorf("HSTS %v %v, want one year without includeSubDomains", s.TLS.HSTSMaxAge, s.TLS.HSTSIncludeSubdomains)
	}
	if _, err := os.Stat(filepath.Join(dir, "state")); !os.IsNotExist(err) {
		t.Errorf("validation created the cache directory (stat: %v)", err)
	}

	// Without a tls block nothing changes: no TLS listener.
	if err := os.WriteFile(path, []byte("server {\n listen = \":8080\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, rt, _, diags = LoadSnapshot(path)
	if diags.HasErrors() || rt.Listeners.TLS != nil || rt.Listeners.TLSListen != "" {
		t.Errorf("no tls block: TLS %+v listen %q, %s", rt.Listeners.TLS, rt.Listeners.TLSListen, diags.Error())
	}
}

// TestTLS_SecretsNotEchoed: eab_hmac never appears in a diagnostic or in
// the source snippets used to print them.
func TestTLS_SecretsNotEchoed(t *testing.T) {
	dir := tlsTestDir(t)
	path := filepath.Join(dir, "tls.hcl")
	const secret = "sekrit+value!"
	if err := os.WriteFile(path, []byte(acmeBlock(`eab_kid = "kid-1"`, `eab_hmac = "`+secret+`"`)), 0o600); err != nil {
		t.Fatal(err)
	}
	c, diags := Load(path)
	if !diags.HasErrors() {
		t.Fatal("want an error for the bad eab_hmac")
	}
	if strings.Contains(diags.Error(), secret) {
		t.Errorf("diagnostics echo the secret: %s", diags.Error())
	}
	if strings.Contains(string(c.Files()[path].Bytes), secret) {
		t.Error("the source kept for snippets shows the secret")
	}
}

func TestCheckDomain(t *testing.T) {
	for in, want := range map[string]string{
		"api.example.com":   "api.example.com",
		"API.Example.COM.":  "api.example.com",
		"a.b":               "a.b",
		"xn--80ak6aa92e.co": "xn--80ak6aa92e.co",
		"3com.example":      "3com.example",
		"a-b.c-d.example":   "a-b.c-d.example",
		"*.example.com":     "",
		"*":                 "",
		"10.0.0.1":          "",
		"::1":               "",
		"example":           "",
		"a..b":              "",
		".a.b":              "",
		"a b.example":       "",
		"a.example-":        "",
		"1.2.3":             "",
	} {
		got, problem := checkDomain(in)
		if got != want || (want == "") != (problem != "") {
			t.Errorf("checkDomain(%q) = %q, %q; want %q", in, got, problem, want)
		}
	}
}
