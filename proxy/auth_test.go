package proxy

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/password"
	"github.com/gatehouse-dev/gatehouse/proxy/authapi"
	"github.com/gatehouse-dev/gatehouse/proxy/session"
	"github.com/gatehouse-dev/gatehouse/settings"
)

const testSigningKey = "test-signing-key-0123456789abcdef-0123456789"

// cheap argon2id parameters keep the tests fast; production uses the
// defaults of gatehouse hash-password.
var testHashParams = password.Argon2Params{Memory: 64, Time: 1, Threads: 1}

func mustHash(t testing.TB, pw string) *password.Hash {
	t.Helper()
	s, err := password.New(pw, testHashParams)
	if err != nil {
		t.Fatal(err)
	}
	h, err := password.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// sessionSpec adds sessions, users and an admin to testSpec: alice is a
// manager of portal (whose default role is reader), bob is inactive, and
// root is an admin.
func sessionSpec(t testing.TB, upstreamURL string) policy.Spec {
	t.Helper()
	spec := testSpec(t, upstreamURL)
	spec.Sessions = &policy.SessionsSpec{
		HMACKey: []byte(testSigningKey), TTL: time.Hour, RefreshTTL: 24 * time.Hour,
		CacheSize: 1000, Issuer: "gatehouse-test",
	}
	spec.Users = []policy.UserSpec{
		{Name: "alice", Password: mustHash(t, "alicepw"), Email: "alice@example.test",
			Roles: map[string]string{"portal": "manager"}, Active: true},
		{Name: "bob", Password: mustHash(t, "bobpw"), Active: false},
		{Name: "dora", Password: mustHash(t, "dorapw"), Active: true}, // no role of her own
	}
	spec.Admins = []policy.AdminSpec{{Name: "root", Password: mustHash(t, "rootpw"), Active: true}}
	return spec
}

// login posts credentials and returns the response and decoded body.
func (p *testProxy) login(t *testing.T, key, user, pw string) (*http.Response, authapi.TokenResponse, string) {
	t.Helper()
	body, _ := json.Marshal(authapi.LoginRequest{Username: user, Password: pw})
	req, _ := http.NewRequest(http.MethodPost, p.URL+"/auth/login", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	res, text := do(t, p.Client(), req)
	var tr authapi.TokenResponse
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal([]byte(text), &tr); err != nil || tr.SessionToken == "" {
			t.Fatalf("login body %q: %v", text, err)
		}
	}
	return res, tr, text
}

func (p *testProxy) mustLogin(t *testing.T, key, user, pw string) string {
	t.Helper()
	res, tr, text := p.login(t, key, user, pw)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("login %s: %d %s", user, res.StatusCode, text)
	}
	return tr.SessionToken
}

// call sends method path with an API key (if any) and a bearer token (if any).
func (p *testProxy) call(t *testing.T, method, path, key, token string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, p.URL+path, nil)
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, p.Client(), req)
}

func TestAuth_LoginCallRefreshLogout(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, sessionSpec(t, up.URL))

	res, tr, _ := p.login(t, testKey, "alice", "alicepw")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("login: %d", res.StatusCode)
	}
	if !tr.ExpiresAt.After(time.Now()) || !tr.RefreshExpiresAt.After(tr.ExpiresAt) {
		t.Errorf("expires_at %v, refresh_expires_at %v", tr.ExpiresAt, tr.RefreshExpiresAt)
	}
	ck := res.Header.Get("Set-Cookie")
	for _, want := range []string{SessionCookie + "=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(ck, want) {
			t.Errorf("Set-Cookie %q lacks %q", ck, want)
		}
	}
	if !strings.Contains(ck, "; Secure") {
		t.Errorf("Set-Cookie %q is not Secure (the default, also on plain HTTP)", ck)
	}
	tok := tr.SessionToken

	// The session's role (manager) applies, not the app's default (reader,
	// which is denied the salary path).
	res, _ = p.call(t, "GET", "/hr/employees/7/salary", testKey, tok)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("alice salary: %d, want 200", res.StatusCode)
	}
	got := up.last(t)
	if got.Header.Get("X-Gatehouse-User") != "alice" || got.Header.Get("X-Gatehouse-Role") != "manager" {
		t.Errorf("identity headers user=%q role=%q", got.Header.Get("X-Gatehouse-User"), got.Header.Get("X-Gatehouse-Role"))
	}
	if got.Header.Get("Authorization") != "" || got.Header.Get("X-Api-Key") != "" {
		t.Errorf("upstream saw credentials: %v", got.Header)
	}
	res, _ = p.call(t, "GET", "/hr/employees/7/salary", testKey, "")
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("guest salary: %d, want 403", res.StatusCode)
	}

	// GET /auth/session describes it.
	res, body := p.call(t, "GET", "/auth/session", testKey, tok)
	var info authapi.SessionInfo
	_ = json.Unmarshal([]byte(body), &info)
	if res.StatusCode != 200 || info.User != "alice" || info.App != "portal" || info.Role != "manager" || info.Provider != "local" {
		t.Errorf("session: %d %s", res.StatusCode, body)
	}

	// Refresh: a new token; the old one is refused from now on.
	res, body = p.call(t, "POST", "/auth/refresh", testKey, tok)
	var tr2 authapi.TokenResponse
	if err := json.Unmarshal([]byte(body), &tr2); res.StatusCode != 200 || err != nil || tr2.SessionToken == tok {
		t.Fatalf("refresh: %d %s", res.StatusCode, body)
	}
	if res, _ := p.call(t, "GET", "/hr/employees", testKey, tok); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("old token after refresh: %d, want 401", res.StatusCode)
	}
	if res, _ := p.call(t, "POST", "/auth/refresh", testKey, tok); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("second refresh of the old token: %d, want 401", res.StatusCode)
	}
	if res, _ := p.call(t, "GET", "/hr/employees", testKey, tr2.SessionToken); res.StatusCode != http.StatusOK {
		t.Errorf("new token: %d, want 200", res.StatusCode)
	}

	// Logout revokes and clears the cookie.
	res, _ = p.call(t, "POST", "/auth/logout", "", tr2.SessionToken)
	if res.StatusCode != http.StatusNoContent || !strings.Contains(res.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("logout: %d, Set-Cookie %q", res.StatusCode, res.Header.Get("Set-Cookie"))
	}
	n := len(up.requests())
	if res, _ := p.call(t, "GET", "/hr/employees", testKey, tr2.SessionToken); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("token after logout: %d, want 401", res.StatusCode)
	}
	if len(up.requests()) != n {
		t.Error("a refused request reached the upstream")
	}
}

// Unknown users and wrong passwords get the same status and body (apart
// from the request id) after the same number of password verifications.
func TestAuth_UnknownUserLooksLikeWrongPassword(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, sessionSpec(t, up.URL))
	reqID := regexp.MustCompile(`"request_id":"[^"]*"`)
	type outcome struct {
		status int
		body   string
		checks uint64
		took   time.Duration
	}
	try := func(key, user, pw string) outcome {
		before := p.srv.auth.PasswordChecks()
		start := time.Now()
		res, _, body := p.login(t, key, user, pw)
		return outcome{res.StatusCode, reqID.ReplaceAllString(body, ""), p.srv.auth.PasswordChecks() - before, time.Since(start)}
	}
	cases := map[string]outcome{
		"wrong password":    try(testKey, "alice", "nope"),
		"unknown user":      try(testKey, "mallory", "nope"),
		"inactive user":     try(testKey, "bob", "bobpw"),
		"admin as user":     try(testKey, "root", "rootpw"),
		"unknown admin":     try("", "mallory", "nope"),
		"admin wrong pw":    try("", "root", "nope"),
		"user as admin":     try("", "alice", "alicepw"),
		"empty password":    try(testKey, "alice", ""),
		"empty username":    try(testKey, "", "x"),
		"very long name":    try(testKey, strings.Repeat("a", 300), "x"),
		"wrong pw, no role": try(testKey, "dora", "x"),
	}
	ref := cases["wrong password"]
	if ref.status != http.StatusUnauthorized || ref.checks != 1 {
		t.Fatalf("wrong password: %+v", ref)
	}
	for name, o := range cases {
		if o.status != ref.status || o.body != ref.body {
			t.Errorf("%s: %d %q, want %d %q", name, o.status, o.body, ref.status, ref.body)
		}
		if !strings.HasPrefix(name, "empty") && name != "very long name" && o.checks != 1 {
			t.Errorf("%s: %d password verifications, want 1", name, o.checks)
		}
		t.Logf("%-18s %v", name, o.took)
	}
	if len(up.requests()) != 0 {
		t.Error("a login reached the upstream")
	}
}

// The negative table of the identity issue: every one of these is a 401
// and nothing reaches the upstream.
func TestAuth_RefusedTokens(t *testing.T) {
	up := newUpstream(t, nil)
	spec := sessionSpec(t, up.URL)
	p := newTestProxy(t, spec)
	good := p.mustLogin(t, testKey, "alice", "alicepw")
	other := p.mustLogin(t, testAdminKey, "alice", "alicepw") // issued for app backoffice
	loggedOut := p.mustLogin(t, testKey, "alice", "alicepw")
	if res, _ := p.call(t, "POST", "/auth/logout", "", loggedOut); res.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	claims := func(t *testing.T, tok string) jwt.MapClaims {
		c := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(tok, c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	sign := func(c jwt.MapClaims, method jwt.SigningMethod, key any, kid string) string {
		tk := jwt.NewWithClaims(method, c)
		tk.Header["kid"] = kid
		s, err := tk.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	kid := func(tok string) string {
		tk, _, _ := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
		return tk.Header["kid"].(string)
	}(good)
	resign := func(edit func(jwt.MapClaims)) string {
		c := claims(t, good)
		edit(c)
		return sign(c, jwt.SigningMethodHS256, []byte(testSigningKey), kid)
	}
	now := time.Now()
	cases := []struct {
		name, key, token string
		extraAuth        bool
	}{
		{name: "alg none", key: testKey, token: func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims(t, good)).SignedString(jwt.UnsafeAllowNoneSignatureType)
			return s
		}()},
		{name: "HS512 with the right secret", key: testKey, token: sign(claims(t, good), jwt.SigningMethodHS512, []byte(testSigningKey), kid)},
		{name: "wrong secret", key: testKey, token: sign(claims(t, good), jwt.SigningMethodHS256, []byte("another-secret-0123456789abcdef-0123"), kid)},
		{name: "expired", key: testKey, token: resign(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })},
		{name: "future nbf", key: testKey, token: resign(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() })},
		{name: "future iat", key: testKey, token: resign(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() })},
		{name: "no exp", key: testKey, token: resign(func(c jwt.MapClaims) { delete(c, "exp") })},
		{name: "wrong aud", key: testKey, token: resign(func(c jwt.MapClaims) { c["aud"] = "backoffice" })},
		{name: "wrong iss", key: testKey, token: resign(func(c jwt.MapClaims) { c["iss"] = "someone-else" })},
		{name: "admin claim forged", key: testKey, token: resign(func(c jwt.MapClaims) { c["adm"] = true })},
		{name: "another app's token", key: testKey, token: other},
		{name: "tampered payload", key: testKey, token: func() string {
			parts := strings.Split(good, ".")
			c := claims(t, good)
			c["sub"] = "root"
			b, _ := json.Marshal(c)
			parts[1] = base64.RawURLEncoding.EncodeToString(b)
			return strings.Join(parts, ".")
		}()},
		{name: "unknown kid", key: testKey, token: func() string {
			return sign(claims(t, good), jwt.SigningMethodHS256, []byte(testSigningKey), "other")
		}()},
		{name: "token after logout", key: testKey, token: loggedOut},
		{name: "garbage", key: testKey, token: "not-a-jwt"},
		{name: "Bearer without a token", key: testKey, token: ""},
		{name: "token without API key", token: good},
		{name: "two Authorization headers", key: testKey, token: good, extraAuth: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := len(up.requests())
			req, _ := http.NewRequest("GET", p.URL+"/hr/employees", nil)
			if tc.key != "" {
				req.Header.Set("X-API-Key", tc.key)
			}
			req.Header.Add("Authorization", "Bearer "+tc.token)
			if tc.extraAuth {
				req.Header.Add("Authorization", "Basic Zm9vOmJhcg==")
			}
			res, body := do(t, p.Client(), req)
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("status %d, want 401 (%s)", res.StatusCode, body)
			}
			if len(up.requests()) != n {
				t.Error("the request reached the upstream")
			}
		})
	}
	// The good token still works: the cases above did not poison it.
	if res, _ := p.call(t, "GET", "/hr/employees", testKey, good); res.StatusCode != http.StatusOK {
		t.Errorf("good token: %d", res.StatusCode)
	}
}

// Deactivating a user, app or role, or changing a user's role, applies to
// the first request after the snapshot swap, even with a cached session.
func TestAuth_RoleComesFromTheCurrentSnapshot(t *testing.T) {
	up := newUpstream(t, nil)
	spec := sessionSpec(t, up.URL)
	p := newTestProxy(t, spec)
	tok := p.mustLogin(t, testKey, "alice", "alicepw")
	if res, _ := p.call(t, "GET", "/hr/employees/7/salary", testKey, tok); res.StatusCode != http.StatusOK {
		t.Fatalf("before: %d", res.StatusCode)
	}
	p.srv.sessions.Wait() // the token is cached from here on
	swap := func(edit func(*policy.Spec)) {
		s := sessionSpec(t, up.URL)
		edit(&s)
		snap, err := policy.New(s)
		if err != nil {
			t.Fatal(err)
		}
		p.srv.Load(snap, nil)
	}
	steps := []struct {
		name string
		edit func(*policy.Spec)
		want int
	}{
		{"role changed to reader", func(s *policy.Spec) { s.Users[0].Roles["portal"] = "reader" }, http.StatusForbidden},
		{"role restored", func(s *policy.Spec) {}, http.StatusOK},
		{"user deactivated", func(s *policy.Spec) { s.Users[0].Active = false }, http.StatusUnauthorized},
		{"user removed", func(s *policy.Spec) { s.Users = s.Users[1:] }, http.StatusUnauthorized},
		{"app deactivated", func(s *policy.Spec) { s.Apps[0].Active = false }, http.StatusUnauthorized},
		{"role deactivated", func(s *policy.Spec) { s.Roles[1].Active = false }, http.StatusForbidden},
		{"role removed from user: app default applies", func(s *policy.Spec) { delete(s.Users[0].Roles, "portal") }, http.StatusForbidden},
		{"back to normal", func(s *policy.Spec) {}, http.StatusOK},
	}
	for _, st := range steps {
		swap(st.edit)
		res, body := p.call(t, "GET", "/hr/employees/7/salary", testKey, tok)
		if res.StatusCode != st.want {
			t.Errorf("%s: %d, want %d (%s)", st.name, res.StatusCode, st.want, body)
		}
	}
}

// With a warm cache, requests verify no signature.
func TestAuth_CacheHitVerifiesNoSignature(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, sessionSpec(t, up.URL))
	tok := p.mustLogin(t, testKey, "alice", "alicepw")
	if res, _ := p.call(t, "GET", "/hr/employees", testKey, tok); res.StatusCode != 200 {
		t.Fatalf("first call: %d", res.StatusCode)
	}
	p.srv.sessions.Wait()
	before := p.srv.sessions.Stats()
	for range 50 {
		if res, _ := p.call(t, "GET", "/hr/employees", testKey, tok); res.StatusCode != 200 {
			t.Fatalf("call: %d", res.StatusCode)
		}
	}
	after := p.srv.sessions.Stats()
	if v := after.Verifications - before.Verifications; v != 0 {
		t.Errorf("%d signature verifications on cache hits, want 0", v)
	}
	if h := after.CacheHits - before.CacheHits; h != 50 {
		t.Errorf("%d cache hits, want 50", h)
	}
}

func TestAuth_Admin(t *testing.T) {
	up := newUpstream(t, nil)
	spec := sessionSpec(t, up.URL)
	p := newTestProxy(t, spec)
	res, tr, _ := p.login(t, "", "root", "rootpw")
	if res.StatusCode != 200 {
		t.Fatalf("admin login: %d", res.StatusCode)
	}
	if res.Header.Get("Set-Cookie") != "" {
		t.Error("admin login set a cookie")
	}
	// No API key needed; every upstream path and verb.
	res, _ = p.call(t, "DELETE", "/hr/anything/at/all", "", tr.SessionToken)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("admin DELETE: %d", res.StatusCode)
	}
	got := up.last(t)
	if got.Header.Get("X-Gatehouse-Admin") != "true" || got.Header.Get("X-Gatehouse-User") != "root" || got.Header.Get("X-Gatehouse-Role") != "" {
		t.Errorf("admin identity headers: %v", got.Header)
	}
	// An admin token is not a user token of any app, and admins
	// deactivated in a new snapshot are refused.
	spec.Admins[0].Active = false
	snap, _ := policy.New(spec)
	p.srv.Load(snap, nil)
	if res, _ := p.call(t, "GET", "/hr/employees", testKey, tr.SessionToken); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("deactivated admin: %d, want 401", res.StatusCode)
	}
}

// A session cookie works like a bearer token and is not passed upstream;
// the client's other cookies are. Nor is a bearer token, however spaced.
func TestAuth_CookieIsStrippedUpstream(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, sessionSpec(t, up.URL))
	tok := p.mustLogin(t, testKey, "alice", "alicepw")
	req, _ := http.NewRequest("GET", p.URL+"/hr/employees/7/salary", nil)
	req.Header.Set("X-API-Key", testKey)
	req.Header.Set("Cookie", "theme=dark; "+SessionCookie+"="+tok+"; lang=en")
	req.Header.Set("Authorization", "Basic dXBzdHJlYW06b3du") // not ours: passed on
	res, _ := do(t, p.Client(), req)
	if res.StatusCode != 200 {
		t.Fatalf("cookie session: %d", res.StatusCode)
	}
	got := up.last(t)
	if c := got.Header.Get("Cookie"); c != "theme=dark; lang=en" {
		t.Errorf("upstream Cookie = %q", c)
	}
	if a := got.Header.Get("Authorization"); a != "Basic dXBzdHJlYW06b3du" {
		t.Errorf("upstream Authorization = %q", a)
	}
	// Two session cookies: which would count? Neither.
	req.Header.Set("Cookie", SessionCookie+"="+tok+"; "+SessionCookie+"=x")
	if res, _ := do(t, p.Client(), req); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("two session cookies: %d, want 401", res.StatusCode)
	}
	// A session token after "Bearer" and a tab is still gatehouse's: it
	// authenticates and does not reach the upstream as another scheme's
	// credential.
	req.Header.Del("Cookie")
	req.Header.Set("Authorization", "Bearer\t"+tok)
	res, body := do(t, p.Client(), req)
	if res.StatusCode != 200 {
		t.Fatalf("Bearer<TAB>token: %d %s, want 200 (alice may read salaries)", res.StatusCode, body)
	}
	if a, ok := up.last(t).Header["Authorization"]; ok {
		t.Errorf("upstream got Authorization %q", a)
	}
}

// Two refreshes of one token at once: exactly one wins.
func TestAuth_ConcurrentRefresh(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, sessionSpec(t, up.URL))
	tok := p.mustLogin(t, testKey, "alice", "alicepw")
	var wg sync.WaitGroup
	codes := make(chan int, 8)
	for range 8 {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", p.URL+"/auth/refresh", nil)
			req.Header.Set("X-API-Key", testKey)
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := p.Client().Do(req)
			if err != nil {
				codes <- 0
				return
			}
			res.Body.Close()
			codes <- res.StatusCode
		})
	}
	wg.Wait()
	close(codes)
	ok := 0
	for c := range codes {
		if c == 200 {
			ok++
		} else if c != 401 {
			t.Errorf("refresh status %d", c)
		}
	}
	if ok != 1 {
		t.Errorf("%d refreshes succeeded, want 1", ok)
	}
}

// EdDSA sessions publish their key; an HS256 token made with the public
// key as the HMAC secret (the classic algorithm confusion) is refused.
func TestAuth_EdDSAAndAlgorithmConfusion(t *testing.T) {
	up := newUpstream(t, nil)
	spec := sessionSpec(t, up.URL)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	spec.Sessions.HMACKey, spec.Sessions.Ed25519Key = nil, priv
	p := newTestProxy(t, spec)
	tok := p.mustLogin(t, testKey, "alice", "alicepw")
	if res, _ := p.call(t, "GET", "/hr/employees", testKey, tok); res.StatusCode != 200 {
		t.Fatalf("EdDSA token: %d", res.StatusCode)
	}
	res, body := p.call(t, "GET", "/auth/jwks.json", "", "")
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal([]byte(body), &set); res.StatusCode != 200 || err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks: %d %s", res.StatusCode, body)
	}
	k := set.Keys[0]
	if k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["x"] != base64.RawURLEncoding.EncodeToString(pub) {
		t.Errorf("jwks key %v", k)
	}
	// Verify the token with the published key, as a third party would.
	parsed, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return pub, nil }, jwt.WithValidMethods([]string{"EdDSA"}))
	if err != nil || !parsed.Valid {
		t.Errorf("token does not verify with the JWKS key: %v", err)
	}
	c := jwt.MapClaims{}
	th, _, _ := jwt.NewParser().ParseUnverified(tok, c)
	for _, secret := range [][]byte{pub, []byte(base64.RawURLEncoding.EncodeToString(pub))} {
		forged := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
		forged.Header["kid"] = th.Header["kid"]
		s, _ := forged.SignedString(secret)
		if res, _ := p.call(t, "GET", "/hr/employees", testKey, s); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("HS256 signed with the public key: %d, want 401", res.StatusCode)
		}
	}
	if n := len(up.requests()); n != 1 {
		t.Errorf("upstream got %d requests, want 1", n)
	}
}

// /auth/* belongs to gatehouse when sessions are on, even under an
// upstream with prefix "/"; login requests must be JSON posts.
func TestAuth_EndpointsAreNotForwarded(t *testing.T) {
	up := newUpstream(t, nil)
	spec := sessionSpec(t, up.URL)
	spec.Upstreams[1].Prefix = "/" // the public upstream takes everything else
	p := newTestProxy(t, spec)
	for _, tc := range []struct {
		method, path, ctype string
		want                int
	}{
		{"GET", "/auth/login", "", http.StatusMethodNotAllowed},
		{"POST", "/auth/login", "text/plain", http.StatusUnsupportedMediaType},
		{"POST", "/auth/login", "application/json", http.StatusBadRequest}, // empty body
		{"GET", "/auth/nope", "", http.StatusNotFound},
		{"GET", "/auth/session", "", http.StatusUnauthorized},
		{"GET", "/auth/oauth/nope/login", "", http.StatusNotFound},
	} {
		req, _ := http.NewRequest(tc.method, p.URL+tc.path, strings.NewReader(""))
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		req.Header.Set("X-API-Key", testKey)
		res, body := do(t, p.Client(), req)
		if res.StatusCode != tc.want {
			t.Errorf("%s %s: %d, want %d (%s)", tc.method, tc.path, res.StatusCode, tc.want, body)
		}
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("upstream got %d requests under /auth/", n)
	}
	if res, _ := p.call(t, "GET", "/authx", "", ""); res.StatusCode != 200 || len(up.requests()) != 1 {
		t.Errorf("/authx is an upstream path: %d", res.StatusCode)
	}
}

// The session cookie, its clearing on logout and the OAuth binding cookie
// are Secure by default, however the request arrived (plain HTTP, or a
// trusted proxy saying http or https); cookie_secure = false (InsecureCookie)
// drops Secure, for development on plain HTTP (issue 18, point 7).
func TestAuth_CookieSecureByDefault(t *testing.T) {
	up := newUpstream(t, nil)
	for _, insecure := range []bool{false, true} {
		spec := sessionSpec(t, up.URL)
		spec.Sessions.InsecureCookie = insecure
		spec.Server.TrustedProxies = []netip.Prefix{mustPrefix(t, "127.0.0.0/8")}
		spec.OAuth = []policy.OAuthSpec{{Name: "github", App: "portal"}}
		p := newTestProxyRuntime(t, spec, &settings.Runtime{OAuth: map[string]settings.OAuth{"github": {Name: "github", Provider: "github",
			ClientID: "cid", ClientSecret: "shh", RedirectURL: "http://127.0.0.1/auth/oauth/github/callback"}}})
		for _, proto := range []string{"", "http", "https"} {
			check := func(what string, res *http.Response) {
				t.Helper()
				ck := res.Header.Get("Set-Cookie")
				if ck == "" || strings.Contains(ck, "; Secure") == insecure {
					t.Errorf("InsecureCookie %v, X-Forwarded-Proto %q, %s: %d Set-Cookie %q", insecure, proto, what, res.StatusCode, ck)
				}
			}
			req, _ := http.NewRequest("POST", p.URL+"/auth/login", strings.NewReader(`{"username":"alice","password":"alicepw"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-API-Key", testKey)
			if proto != "" {
				req.Header.Set("X-Forwarded-Proto", proto)
			}
			res, body := do(t, p.Client(), req)
			check("login", res)
			var tr authapi.TokenResponse
			_ = json.Unmarshal([]byte(body), &tr)
			req, _ = http.NewRequest("POST", p.URL+"/auth/logout", nil)
			req.Header.Set("Authorization", "Bearer "+tr.SessionToken)
			if proto != "" {
				req.Header.Set("X-Forwarded-Proto", proto)
			}
			res, _ = do(t, p.Client(), req)
			check("logout", res)
			req, _ = http.NewRequest("GET", p.URL+"/auth/oauth/github/login?next=/", nil)
			if proto != "" {
				req.Header.Set("X-Forwarded-Proto", proto)
			}
			noRedirect := *p.Client()
			noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			res, _ = do(t, &noRedirect, req)
			check("oauth login", res)
		}
	}
}

// Public upstreams never see gatehouse's session credentials, though
// their own Bearer tokens pass.
func TestAuth_PublicRouteStripsSessionCredentials(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, sessionSpec(t, up.URL))
	tok := p.mustLogin(t, testKey, "alice", "alicepw")
	for _, tc := range []struct{ auth, wantAuth string }{
		{"Bearer " + tok, ""},
		{"Bearer " + tok[:len(tok)-4] + "AAAA", ""}, // ours, bad signature
		{"Bearer\t" + tok, ""},
		{"Bearer upstream-own-token", "Bearer upstream-own-token"},
	} {
		req, _ := http.NewRequest("GET", p.URL+"/pub/x", nil)
		req.Header.Set("Authorization", tc.auth)
		req.Header.Set("Cookie", SessionCookie+"="+tok+"; a=b")
		if res, _ := do(t, p.Client(), req); res.StatusCode != 200 {
			t.Fatalf("public: %d", res.StatusCode)
		}
		got := up.last(t).Header
		if got.Get("Authorization") != tc.wantAuth || got.Get("Cookie") != "a=b" {
			t.Errorf("public upstream got Authorization %q Cookie %q", got.Get("Authorization"), got.Get("Cookie"))
		}
	}
}

// A reload that changes the issuer ends cached sessions too.
func TestAuth_IssuerChangeEndsCachedSessions(t *testing.T) {
	up := newUpstream(t, nil)
	spec := sessionSpec(t, up.URL)
	p := newTestProxy(t, spec)
	tok := p.mustLogin(t, testKey, "alice", "alicepw")
	if res, _ := p.call(t, "GET", "/hr/employees", testKey, tok); res.StatusCode != 200 {
		t.Fatal(res.StatusCode)
	}
	p.srv.sessions.Wait()
	spec.Sessions.Issuer = "another-issuer"
	snap, err := policy.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	p.srv.Load(snap, nil)
	if res, _ := p.call(t, "GET", "/hr/employees", testKey, tok); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("token of the old issuer: %d, want 401", res.StatusCode)
	}
}

// Other cookies pass as the client sent them: the Cookie header is only
// rewritten when it carries the session cookie.
func TestStripSessionCredential_LeavesOtherCookiesAlone(t *testing.T) {
	h := http.Header{"Cookie": {"a=1;b=2", "c=3"}}
	stripSessionCredential(h, credNone)
	if got := h["Cookie"]; len(got) != 2 || got[0] != "a=1;b=2" || got[1] != "c=3" {
		t.Errorf("Cookie = %q", got)
	}
	h = http.Header{"Cookie": {"a=1; " + SessionCookie + "=t", "c=3"}}
	stripSessionCredential(h, credCookie)
	if got := h["Cookie"]; len(got) != 1 || got[0] != "a=1; c=3" {
		t.Errorf("Cookie = %q", got)
	}
}

// Tokens signed with the real key whose times are strings or fractions, or
// that were minted to outlive ttl, are refused with their own reasons, on
// requests and on refresh (issue 18, point 6).
func TestAuth_TokenTimesAndLifetime(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, sessionSpec(t, up.URL)) // ttl 1h
	good := p.mustLogin(t, testKey, "alice", "alicepw")
	tk, _, err := jwt.NewParser().ParseUnverified(good, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	kid := tk.Header["kid"].(string)
	now := time.Now().Unix()
	cases := []struct {
		name, reason string
		edit         func(jwt.MapClaims)
	}{
		{"string exp", reasonSessionBadTimes, func(c jwt.MapClaims) { c["exp"] = strconv.FormatInt(now+600, 10) }},
		{"string iat", reasonSessionBadTimes, func(c jwt.MapClaims) { c["iat"] = strconv.FormatInt(now, 10) }},
		{"float exp", reasonSessionBadTimes, func(c jwt.MapClaims) { c["exp"] = float64(now) + 600.5 }},
		{"missing iat", reasonSessionBadTimes, func(c jwt.MapClaims) { delete(c, "iat") }},
		{"lifetime ttl+leeway+1s", reasonSessionLifetime, func(c jwt.MapClaims) {
			c["iat"], c["nbf"], c["auth_time"] = now, now, now
			c["exp"] = now + int64((time.Hour+session.Leeway)/time.Second) + 1
		}},
		{"lifetime 30 days", reasonSessionLifetime, func(c jwt.MapClaims) { c["exp"] = now + 30*86400 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := jwt.MapClaims{}
			if _, _, err := jwt.NewParser().ParseUnverified(good, c); err != nil {
				t.Fatal(err)
			}
			tc.edit(c)
			mt := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
			mt.Header["kid"] = kid
			tok, err := mt.SignedString([]byte(testSigningKey))
			if err != nil {
				t.Fatal(err)
			}
			n := len(up.requests())
			for _, call := range []struct{ method, path string }{{"GET", "/hr/employees"}, {"POST", "/auth/refresh"}} {
				res, body := p.call(t, call.method, call.path, testKey, tok)
				recs := p.log.records(t)
				got := recs[len(recs)-1]["reason"]
				if res.StatusCode != http.StatusUnauthorized || got != tc.reason {
					t.Errorf("%s %s: got %d %v, want 401 %s (%s)", call.method, call.path, res.StatusCode, got, tc.reason, body)
				}
			}
			if len(up.requests()) != n {
				t.Error("the request reached the upstream")
			}
		})
	}
	if res, _ := p.call(t, "GET", "/hr/employees", testKey, good); res.StatusCode != http.StatusOK {
		t.Errorf("good token: %d", res.StatusCode)
	}
}

// Failed logins for one account from one address are limited; the right
// password does not get through once the budget is spent; other accounts
// from the same address (a NAT) still log in; the budget refills.
func TestLoginRateLimit(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, sessionSpec(t, up.URL))
	start := time.Now()
	var elapsed atomic.Int64
	p.srv.auth = authapi.New(authapi.Options{Sessions: p.srv.sessions, Now: func() time.Time {
		return start.Add(time.Duration(elapsed.Load()))
	}})
	for i := range authapi.FailBurst {
		if res, _, _ := p.login(t, testKey, "alice", "wrong"); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, res.StatusCode)
		}
	}
	before := p.srv.auth.PasswordChecks()
	res, _, _ := p.login(t, testKey, "alice", "alicepw")
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("after %d failures: %d (Retry-After %q), want 429", authapi.FailBurst, res.StatusCode, res.Header.Get("Retry-After"))
	}
	if p.srv.auth.PasswordChecks() != before {
		t.Error("a rate-limited login still checked a password")
	}
	if res, _, _ := p.login(t, testKey, "ALICE", "alicepw"); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the username's case does not reset the budget: %d", res.StatusCode)
	}
	if res, _, _ := p.login(t, "", "root", "rootpw"); res.StatusCode != http.StatusOK {
		t.Errorf("another account from the same address: %d, want 200", res.StatusCode)
	}
	elapsed.Add(int64(authapi.FailEvery))
	if res, _, _ := p.login(t, testKey, "alice", "alicepw"); res.StatusCode != http.StatusOK {
		t.Errorf("after %v: %d, want 200", authapi.FailEvery, res.StatusCode)
	}
}
