package testidp_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

const redirect = "http://127.0.0.1:1/callback"

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	client := &http.Client{Timeout: 10 * time.Second}
	return oidc.ClientContext(ctx, client)
}

// noFollow returns a client that stops at the first redirect.
func noFollow() *http.Client {
	return &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func newIdP(t *testing.T, opts ...testidp.Option) (*testidp.IdP, *oidc.Provider, *oauth2.Config) {
	t.Helper()
	idp := testidp.New(t, append([]testidp.Option{testidp.RedirectURIs(redirect)}, opts...)...)
	prov, err := oidc.NewProvider(testCtx(t), idp.Issuer())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	cfg := &oauth2.Config{
		ClientID:     idp.ClientID(),
		ClientSecret: idp.ClientSecret(),
		RedirectURL:  redirect,
		Endpoint:     prov.Endpoint(),
		Scopes:       []string{oidc.ScopeOpenID, "email", "profile"},
	}
	return idp, prov, cfg
}

// authorize runs the authorization endpoint and returns the callback query.
func authorize(t *testing.T, authURL string) url.Values {
	t.Helper()
	resp, err := noFollow().Get(authURL)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: status %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("authorize: Location: %v", err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirect {
		t.Fatalf("redirected to %q, want %q", got, redirect)
	}
	return loc.Query()
}

// login runs authorize + token with a fresh verifier and nonce.
func login(t *testing.T, cfg *oauth2.Config) (*oauth2.Token, string, error) {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	nonce := "n-" + oauth2.GenerateVerifier()
	q := authorize(t, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)))
	if q.Get("code") == "" {
		t.Fatalf("no code: %v", q)
	}
	tok, err := cfg.Exchange(testCtx(t), q.Get("code"), oauth2.VerifierOption(verifier))
	return tok, nonce, err
}

func wantOAuthError(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != code {
		t.Fatalf("error = %v, want oauth2 error %q", err, code)
	}
}

func TestDiscoveryDocument(t *testing.T) {
	idp := testidp.New(t)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(idp.URL() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Issuer     string   `json:"issuer"`
		Auth       string   `json:"authorization_endpoint"`
		Token      string   `json:"token_endpoint"`
		JWKS       string   `json:"jwks_uri"`
		UserInfo   string   `json:"userinfo_endpoint"`
		Algs       []string `json:"id_token_signing_alg_values_supported"`
		Challenges []string `json:"code_challenge_methods_supported"`
		Responses  []string `json:"response_types_supported"`
		Subjects   []string `json:"subject_types_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	u := idp.URL()
	if !strings.HasPrefix(u, "http://127.0.0.1:") || idp.Issuer() != u || doc.Issuer != u {
		t.Fatalf("URL %q, Issuer %q, document issuer %q", u, idp.Issuer(), doc.Issuer)
	}
	if doc.Auth != u+"/authorize" || doc.Token != u+"/token" || doc.JWKS != u+"/jwks" || doc.UserInfo != u+"/userinfo" {
		t.Fatalf("endpoints: %+v", doc)
	}
	if strings.Join(doc.Algs, ",") != "RS256" || strings.Join(doc.Challenges, ",") != "S256" ||
		strings.Join(doc.Responses, ",") != "code" || strings.Join(doc.Subjects, ",") != "public" {
		t.Fatalf("capabilities: %+v", doc)
	}
	if idp.DiscoveryRequests() != 1 {
		t.Fatalf("DiscoveryRequests = %d", idp.DiscoveryRequests())
	}
}

func TestCodeFlowWithRealClients(t *testing.T) {
	idp, prov, cfg := newIdP(t)
	tok, nonce, err := login(t, cfg)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.TokenType != "Bearer" || tok.AccessToken == "" || tok.Expiry.IsZero() {
		t.Fatalf("token: %+v", tok)
	}
	q := idp.LastAuthorizeQuery()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") != nonce || q.Get("state") != "st" {
		t.Fatalf("authorize query: %v", q)
	}
	form, basic := idp.LastTokenRequest()
	if !basic || form.Get("code_verifier") == "" || form.Get("client_secret") != "" {
		t.Fatalf("token request: basic=%v form=%v", basic, form)
	}
	if idp.TokenRequests() != 1 {
		t.Fatalf("TokenRequests = %d", idp.TokenRequests())
	}

	raw, _ := tok.Extra("id_token").(string)
	idt, err := prov.Verifier(&oidc.Config{ClientID: cfg.ClientID}).Verify(testCtx(t), raw)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
		Name          string `json:"name"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != testidp.DefaultSubject || idt.Nonce != nonce || idt.Issuer != idp.Issuer() ||
		claims.Email != testidp.DefaultEmail || !claims.EmailVerified || claims.Name != testidp.DefaultName {
		t.Fatalf("id token: %+v %+v", idt, claims)
	}

	ui, err := prov.UserInfo(testCtx(t), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if ui.Subject != testidp.DefaultSubject || ui.Email != testidp.DefaultEmail || !ui.EmailVerified {
		t.Fatalf("userinfo: %+v", ui)
	}
}

func TestClientSecretPost(t *testing.T) {
	idp, _, cfg := newIdP(t)
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	if _, _, err := login(t, cfg); err != nil {
		t.Fatalf("exchange: %v", err)
	}
	form, basic := idp.LastTokenRequest()
	if basic || form.Get("client_secret") != idp.ClientSecret() {
		t.Fatalf("want client_secret_post, got basic=%v", basic)
	}
}

func TestWrongClientSecret(t *testing.T) {
	_, _, cfg := newIdP(t)
	cfg.ClientSecret = "nope"
	_, _, err := login(t, cfg)
	wantOAuthError(t, err, "invalid_client")
}

func TestCodeIsSingleUse(t *testing.T) {
	_, _, cfg := newIdP(t)
	verifier := oauth2.GenerateVerifier()
	q := authorize(t, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	if _, err := cfg.Exchange(testCtx(t), q.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("first exchange: %v", err)
	}
	_, err := cfg.Exchange(testCtx(t), q.Get("code"), oauth2.VerifierOption(verifier))
	wantOAuthError(t, err, "invalid_grant")
}

func TestPKCEMismatch(t *testing.T) {
	_, _, cfg := newIdP(t)
	q := authorize(t, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	_, err := cfg.Exchange(testCtx(t), q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
	wantOAuthError(t, err, "invalid_grant")

	q = authorize(t, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	_, err = cfg.Exchange(testCtx(t), q.Get("code")) // no verifier at all
	wantOAuthError(t, err, "invalid_grant")
}

func TestCodeExpires(t *testing.T) {
	idp, _, cfg := newIdP(t)
	verifier := oauth2.GenerateVerifier()
	q := authorize(t, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	idp.Advance(testidp.CodeTTL + time.Second)
	_, err := cfg.Exchange(testCtx(t), q.Get("code"), oauth2.VerifierOption(verifier))
	wantOAuthError(t, err, "invalid_grant")
}

func TestRedirectURIMustMatch(t *testing.T) {
	const other = "http://127.0.0.1:2/callback"
	idp, _, cfg := newIdP(t)
	idp.Register(idp.ClientID(), idp.ClientSecret(), other)

	// Unregistered redirect URI: an error page, no redirect.
	bad := *cfg
	bad.RedirectURL = "http://127.0.0.1:3/callback"
	resp, err := noFollow().Get(bad.AuthCodeURL("st", oauth2.S256ChallengeOption("v")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unregistered redirect_uri: status %d", resp.StatusCode)
	}

	// Code issued for one redirect URI, redeemed with another.
	verifier := oauth2.GenerateVerifier()
	q := authorize(t, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	swapped := *cfg
	swapped.RedirectURL = other
	_, err = swapped.Exchange(testCtx(t), q.Get("code"), oauth2.VerifierOption(verifier))
	wantOAuthError(t, err, "invalid_grant")
}

func TestAuthorizeValidation(t *testing.T) {
	idp, _, cfg := newIdP(t)
	cases := map[string]string{
		"no PKCE":        cfg.AuthCodeURL("st"),
		"plain PKCE":     cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("code_challenge", "x"), oauth2.SetAuthURLParam("code_challenge_method", "plain")),
		"no state":       cfg.AuthCodeURL("", oauth2.S256ChallengeOption("v")),
		"token response": cfg.AuthCodeURL("st", oauth2.S256ChallengeOption("v"), oauth2.SetAuthURLParam("response_type", "token")),
	}
	for name, u := range cases {
		q := authorize(t, u)
		if q.Get("code") != "" || q.Get("error") == "" {
			t.Errorf("%s: callback %v, want an error", name, q)
		}
		if name != "no state" && q.Get("state") != "st" {
			t.Errorf("%s: state not echoed: %v", name, q)
		}
	}

	resp, err := noFollow().Get(strings.Replace(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption("v")), "client_id="+cfg.ClientID, "client_id=unknown", 1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown client: status %d", resp.StatusCode)
	}

	idp.Deny("access_denied")
	q := authorize(t, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption("v")))
	if q.Get("error") != "access_denied" || q.Get("state") != "st" || q.Get("code") != "" {
		t.Fatalf("Deny: %v", q)
	}
	if q := authorize(t, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption("v"))); q.Get("code") == "" {
		t.Fatalf("Deny must affect one request only: %v", q)
	}
}

func TestSpoiledIDTokens(t *testing.T) {
	idp, prov, cfg := newIdP(t)
	cases := []struct {
		name  string
		knob  func()
		check func(*oidc.IDToken, string) bool // true when the spoiling shows
	}{
		{"WrongNonce", idp.WrongNonce, func(idt *oidc.IDToken, nonce string) bool { return idt != nil && idt.Nonce != nonce }},
		{"WrongAudience", idp.WrongAudience, nil},
		{"WrongIssuer", idp.WrongIssuer, nil},
		{"Expired", idp.Expired, nil},
		{"SignWithOtherKey", idp.SignWithOtherKey, nil},
	}
	verifier := prov.Verifier(&oidc.Config{ClientID: cfg.ClientID})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.knob()
			tok, nonce, err := login(t, cfg)
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			idt, err := verifier.Verify(testCtx(t), tok.Extra("id_token").(string))
			if tc.check != nil {
				if err != nil || !tc.check(idt, nonce) {
					t.Fatalf("verify: %v; spoiling not visible", err)
				}
			} else if err == nil {
				t.Fatal("spoiled ID token verified")
			}
			// The knob applies to one token only.
			tok, nonce, err = login(t, cfg)
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			idt, err = verifier.Verify(testCtx(t), tok.Extra("id_token").(string))
			if err != nil || idt.Nonce != nonce {
				t.Fatalf("next token: %v", err)
			}
		})
	}
}

func TestRotateKey(t *testing.T) {
	idp, prov, cfg := newIdP(t)
	verifier := prov.Verifier(&oidc.Config{ClientID: cfg.ClientID})
	check := func() string {
		tok, _, err := login(t, cfg)
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		raw := tok.Extra("id_token").(string)
		if _, err := verifier.Verify(testCtx(t), raw); err != nil {
			t.Fatalf("verify: %v", err)
		}
		var hdr struct {
			Kid string `json:"kid"`
		}
		if err := json.Unmarshal(decodeSegment(t, raw), &hdr); err != nil {
			t.Fatal(err)
		}
		return hdr.Kid
	}
	before := check()
	idp.RotateKey(t)
	if after := check(); after == before || after == "" {
		t.Fatalf("kid %q → %q", before, after)
	}
}

func decodeSegment(t *testing.T, jwt string) []byte {
	t.Helper()
	seg, _, _ := strings.Cut(jwt, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNoIDTokenWithoutOpenIDScope(t *testing.T) {
	_, _, cfg := newIdP(t)
	cfg.Scopes = []string{"read:user"}
	tok, _, err := login(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Extra("id_token") != nil {
		t.Fatal("id_token issued without the openid scope")
	}
}

func apiGet(t *testing.T, u, auth string, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func TestGitHubAndFacebookFakes(t *testing.T) {
	idp, _, cfg := newIdP(t)
	idp.SetUser(testidp.User{Subject: "u-bob", Email: "bob@example.test", EmailVerified: true, Name: "Bob"})
	cfg.Scopes = []string{"read:user", "user:email"}
	tok, _, err := login(t, cfg)
	if err != nil {
		t.Fatal(err)
	}

	var user struct {
		ID    int64  `json:"id"`
		Login string `json:"login"`
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	if code := apiGet(t, idp.URL()+"/api/user", "token "+tok.AccessToken, &user); code != http.StatusOK {
		t.Fatalf("/api/user: %d", code)
	}
	if user.ID != testidp.GitHubID || user.Login != "bob" || user.Name != "Bob" || user.Email != testidp.GitHubPublicEmail {
		t.Fatalf("/api/user: %+v", user)
	}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if code := apiGet(t, idp.URL()+"/api/user/emails", "Bearer "+tok.AccessToken, &emails); code != http.StatusOK {
		t.Fatalf("/api/user/emails: %d", code)
	}
	if len(emails) != 2 || emails[1].Email != "bob@example.test" || !emails[1].Primary || !emails[1].Verified || emails[0].Primary {
		t.Fatalf("/api/user/emails: %+v", emails)
	}

	var me map[string]string
	if code := apiGet(t, idp.URL()+"/me?fields=id,name,email", "Bearer "+tok.AccessToken, &me); code != http.StatusOK {
		t.Fatalf("/me: %d", code)
	}
	if me["id"] != "u-bob" || me["name"] != "Bob" || me["email"] != "bob@example.test" {
		t.Fatalf("/me: %v", me)
	}
	m := hmac.New(sha256.New, []byte(idp.ClientSecret()))
	m.Write([]byte(tok.AccessToken))
	proof := hex.EncodeToString(m.Sum(nil))
	if code := apiGet(t, idp.URL()+"/me?fields=id&access_token="+tok.AccessToken+"&appsecret_proof="+proof, "", nil); code != http.StatusOK {
		t.Fatalf("/me with query token and proof: %d", code)
	}
	if code := apiGet(t, idp.URL()+"/me?fields=id&appsecret_proof=00", "Bearer "+tok.AccessToken, nil); code != http.StatusBadRequest {
		t.Fatalf("/me with a bad proof: %d", code)
	}

	for _, p := range []string{"/api/user", "/api/user/emails", "/me", "/userinfo"} {
		if code := apiGet(t, idp.URL()+p, "Bearer not-a-token", nil); code != http.StatusUnauthorized {
			t.Errorf("%s with a bad token: %d", p, code)
		}
		if code := apiGet(t, idp.URL()+p, "", nil); code != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d", p, code)
		}
	}
}

func TestFailDiscovery(t *testing.T) {
	idp := testidp.New(t)
	idp.FailDiscovery(1)
	if _, err := oidc.NewProvider(testCtx(t), idp.Issuer()); err == nil {
		t.Fatal("discovery succeeded")
	}
	if _, err := oidc.NewProvider(testCtx(t), idp.Issuer()); err != nil {
		t.Fatalf("second discovery: %v", err)
	}
}
