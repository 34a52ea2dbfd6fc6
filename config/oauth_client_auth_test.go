package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

const oauthAuthBase = `
sessions {
  signing_key = "a-signing-key-of-enough-length-0123456789"
}
app "portal" {
  api_key_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
}
`

func writePEM(t *testing.T, dir, name, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// The oauth block's client authentication: the methods, the key they
// need, and a positioned diagnostic for each mistake, none showing the key.
func TestOAuthClientAuth(t *testing.T) {
	dir := t.TempDir()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	writePEM(t, dir, "rsa.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey))
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	writePEM(t, dir, "ec.pem", "PRIVATE KEY", ecDER)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalECPrivateKey(p384)
	writePEM(t, dir, "p384.pem", "EC PRIVATE KEY", p384DER)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	writePEM(t, dir, "small.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small))
	writePEM(t, dir, "cert.pem", "CERTIFICATE", []byte("x"))

	block := func(provider, body string) string {
		return oauthAuthBase + `
oauth "sso" {
  provider     = "` + provider + `"
  issuer       = "https://sso.example.test"
  client_id    = "gatehouse"
  redirect_url = "https://api.example.test/auth/oauth/sso/callback"
  app          = "portal"
` + body + `}
`
	}
	for _, tc := range []struct {
		name, provider, body string
		errs                 []string // "summary@line-in-block"; empty: valid
		method               string
		key                  any
		kid                  string
		aud                  string
		warn                 string // a warning "summary@line-in-block" expected among others
	}{
		{name: "default", provider: "oidc", body: "client_secret = \"s\"\n"},
		{name: "post", provider: "oidc", body: "client_secret = \"s\"\ntoken_endpoint_auth_method = \"client_secret_post\"\n", method: "client_secret_post"},
		{name: "rsa", provider: "oidc", body: "token_endpoint_auth_method = \"private_key_jwt\"\nprivate_key = file(\"rsa.pem\")\nprivate_key_id = \"k1\"\n", method: "private_key_jwt", key: rsaKey, kid: "k1"},
		{name: "ec", provider: "oidc", body: "token_endpoint_auth_method = \"private_key_jwt\"\nprivate_key = file(\"ec.pem\")\n", method: "private_key_jwt", key: ecKey},
		{name: "issuer audience", provider: "oidc", body: "token_endpoint_auth_method = \"private_key_jwt\"\nprivate_key = file(\"ec.pem\")\nclient_assertion_audience = \"issuer\"\n", method: "private_key_jwt", key: ecKey, aud: "issuer"},
		{name: "token endpoint audience", provider: "oidc", body: "token_endpoint_auth_method = \"private_key_jwt\"\nprivate_key = file(\"ec.pem\")\nclient_assertion_audience = \"token_endpoint\"\n", method: "private_key_jwt", key: ecKey, aud: "token_endpoint"},
		{name: "unknown audience", provider: "oidc", body: "token_endpoint_auth_method = \"private_key_jwt\"\nprivate_key = file(\"ec.pem\")\nclient_assertion_audience = \"https://sso.example.test\"\n", errs: []string{"Invalid client_assertion_audience@3"}},
		{name: "audience without private_key_jwt", provider: "oidc", body: "client_secret = \"s\"\nclient_assertion_audience = \"issuer\"\n", aud: "issuer", warn: "Setting not used@2"},
		{name: "unknown method", provider: "oidc", body: "client_secret = \"s\"\ntoken_endpoint_auth_method = \"client_secret_jwt\"\n", errs: []string{"Invalid token_endpoint_auth_method@2"}},
		{name: "no secret", provider: "oidc", body: "", errs: []string{"Missing required argument@0"}},
		{name: "no key", provider: "oidc", body: "token_endpoint_auth_method = \"private_key_jwt\"\n", errs: []string{"Missing required argument@1"}},
		{name: "key without method", provider: "oidc", body: "client_secret = \"s\"\nprivate_key = file(\"rsa.pem\")\n", errs: []string{"Invalid private key@2"}},
		{name: "github", provider: "github", body: "token_endpoint_auth_method = \"private_key_jwt\"\nprivate_key = file(\"rsa.pem\")\n", errs: []string{"Invalid token_endpoint_auth_method@1"}},
		{name: "p384", provider: "oidc", body: "token_endpoint_auth_method = \"private_key_jwt\"\nprivate_key = file(\"p384.pem\")\n", errs: []string{"Invalid private key@2"}},
		{name: "small", provider: "oidc", body: "token_endpoint_auth_method = \"private_key_jwt\"\nprivate_key = file(\"small.pem\")\n", errs: []string{"Invalid private key@2"}},
		{name: "cert", provider: "oidc", body: "token_endpoint_auth_method = \"private_key_jwt\"\nprivate_key = file(\"cert.pem\")\n", errs: []string{"Invalid private key@2"}},
		{name: "inline garbage", provider: "oidc", body: "token_endpoint_auth_method = \"private_key_jwt\"\nprivate_key = \"SECRETSECRET\"\n", errs: []string{"Invalid private key@2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := block(tc.provider, tc.body)
			path := filepath.Join(dir, "gatehouse.hcl")
			if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			// line of the block's first body line, 1-based; @0 = the block line
			blockLine := strings.Count(src[:strings.Index(src, `oauth "sso"`)], "\n") + 1
			bodyLine := blockLine + 6
			_, rt, _, diags := LoadSnapshot(path)
			var got, warns []string
			for _, d := range diags {
				if strings.Contains(d.Detail, "SECRETSECRET") || strings.Contains(d.Detail, "PRIVATE KEY") {
					t.Errorf("diagnostic shows the key: %s", d.Detail)
				}
				line := 0
				if d.Subject.Start.Line != blockLine {
					line = d.Subject.Start.Line - bodyLine + 1
				}
				if d.Severity != hcl.DiagError {
					warns = append(warns, d.Summary+"@"+strconv.Itoa(line))
					continue
				}
				got = append(got, d.Summary+"@"+strconv.Itoa(line))
			}
			if tc.warn != "" && !slices.Contains(warns, tc.warn) {
				t.Errorf("warnings %v, want %s among them", warns, tc.warn)
			}
			if strings.Join(got, ",") != strings.Join(tc.errs, ",") {
				t.Fatalf("errors %v, want %v\n%s", got, tc.errs, diags)
			}
			if len(tc.errs) > 0 {
				return
			}
			s := rt.OAuth["sso"]
			if s.TokenAuthMethod != tc.method || s.PrivateKeyID != tc.kid || s.ClientAssertionAudience != tc.aud {
				t.Fatalf("settings %q %q %q", s.TokenAuthMethod, s.PrivateKeyID, s.ClientAssertionAudience)
			}
			switch want := tc.key.(type) {
			case nil:
				if s.PrivateKey != nil {
					t.Fatalf("key %T", s.PrivateKey)
				}
			case *rsa.PrivateKey:
				if k, ok := s.PrivateKey.(*rsa.PrivateKey); !ok || !k.Equal(want) {
					t.Fatal("wrong RSA key")
				}
			case *ecdsa.PrivateKey:
				if k, ok := s.PrivateKey.(*ecdsa.PrivateKey); !ok || !k.Equal(want) {
					t.Fatal("wrong EC key")
				}
			}
		})
	}
}

// clock_skew: 60s by default, 0 allowed, at most 10m.
func TestOAuthClockSkew(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		line string
		want time.Duration
		err  string
	}{
		{"", 60 * time.Second, ""},
		{`clock_skew = "0s"`, 0, ""},
		{`clock_skew = "2m"`, 2 * time.Minute, ""},
		{`clock_skew = "11m"`, 0, "Invalid duration"},
		{`clock_skew = "-1s"`, 0, "Invalid duration"},
		{`clock_skew = "soon"`, 0, "Invalid duration"},
	} {
		src := oauthAuthBase + `
oauth "sso" {
  provider      = "oidc"
  issuer        = "https://sso.example.test"
  client_id     = "gatehouse"
  client_secret = "s"
  redirect_url  = "https://api.example.test/auth/oauth/sso/callback"
  app           = "portal"
  ` + tc.line + `
}
`
		path := filepath.Join(dir, "gatehouse.hcl")
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		_, rt, _, diags := LoadSnapshot(path)
		if tc.err != "" {
			if !diags.HasErrors() || diags.Errs()[0].(*hcl.Diagnostic).Summary != tc.err || diags.Errs()[0].(*hcl.Diagnostic).Subject.Start.Line != strings.Count(src, "\n")-1 {
				t.Errorf("%s: %v, want %s on its line", tc.line, diags, tc.err)
			}
			continue
		}
		if diags.HasErrors() {
			t.Fatalf("%s: %v", tc.line, diags)
		}
		if got := rt.OAuth["sso"].ClockSkew; got != tc.want {
			t.Errorf("%s: clock skew %s, want %s", tc.line, got, tc.want)
		}
	}
}

// end_session and post_logout_redirect_url: settings, and the mistakes.
func TestOAuthEndSession(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		provider, lines string
		err             string
		want            bool
		post            string
	}{
		{"oidc", `end_session = true
  post_logout_redirect_url = "https://app.example.test/bye"`, "", true, "https://app.example.test/bye"},
		{"oidc", ``, "", false, ""},
		{"oidc", `post_logout_redirect_url = "https://app.example.test/bye"`, "Setting not used", false, ""},
		{"github", `end_session = true`, "Setting not used", false, ""},
		{"oidc", `end_session = true
  post_logout_redirect_url = "http://app.example.test/bye"`, "Invalid URL", false, ""},
	} {
		src := oauthAuthBase + `
oauth "sso" {
  provider      = "` + tc.provider + `"
  issuer        = "https://sso.example.test"
  client_id     = "gatehouse"
  client_secret = "s"
  redirect_url  = "https://api.example.test/auth/oauth/sso/callback"
  app           = "portal"
  ` + tc.lines + `
}
`
		path := filepath.Join(dir, "gatehouse.hcl")
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		_, rt, _, diags := LoadSnapshot(path)
		if tc.err != "" {
			if !diags.HasErrors() || diags.Errs()[0].(*hcl.Diagnostic).Summary != tc.err {
				t.Errorf("%s %s: %v, want %s", tc.provider, tc.lines, diags, tc.err)
			}
			continue
		}
		if diags.HasErrors() {
			t.Fatalf("%s: %v", tc.lines, diags)
		}
		if s := rt.OAuth["sso"]; s.EndSession != tc.want || s.PostLogoutRedirectURL != tc.post {
			t.Errorf("%s: %v %q", tc.lines, s.EndSession, s.PostLogoutRedirectURL)
		}
	}
}
