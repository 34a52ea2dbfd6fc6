package main

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// X (Twitter) sign-in through the binary, with the test IdP standing in
// for X (its authorization, token and /2/users/me endpoints): PKCE is
// checked by the IdP, the session is the mapped local user's (by X user
// id, or by username with match_username), an unmapped or inactive account
// is refused, and a provider error is reported as for OIDC.
func TestAuthE2E_XLogin(t *testing.T) {
	port := freePort(t)
	callback := fmt.Sprintf("http://127.0.0.1:%d/auth/oauth/x/callback", port)
	// X wants HTTP Basic from confidential clients; the IdP accepts nothing else.
	idp := testidp.New(t, testidp.RedirectURIs(callback), testidp.AuthMethods(testidp.AuthBasic))
	w := startAuthWorld(t, port, fmt.Sprintf(`
user "alice" {
  email = "alice@example.test"
  roles = { portal = "hr_reader" }
}

user "bob" {
  active = false
}

user "carol" {}

oauth "x" {
  provider       = "x"
  client_id      = %q
  client_secret  = %q
  redirect_url   = %q
  auth_url       = %q
  token_url      = %q
  api_url        = %q
  app            = "portal"
  users = {
    "2244994945" = "alice"
    "783214"     = "bob"
  }
  match_username = true
}
`, idp.ClientID(), idp.ClientSecret(), callback, idp.URL()+"/authorize", idp.TokenURL(), idp.XAPIURL()))

	newBrowser := func() (*http.Client, *cookiejar.Jar) {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > 5 {
				return fmt.Errorf("too many redirects")
			}
			if strings.HasPrefix(req.URL.String(), w.base) && !strings.HasPrefix(req.URL.Path, "/auth/") {
				return http.ErrUseLastResponse
			}
			return nil
		}}, jar
	}
	// login signs in at "X" as u and returns the browser and gatehouse's
	// last answer (the callback's, or its redirect to next).
	login := func(u testidp.User) (*http.Client, *cookiejar.Jar, *http.Response) {
		t.Helper()
		idp.SetUser(u)
		browser, jar := newBrowser()
		res, err := browser.Get(w.base + "/auth/oauth/x/login?next=/hr/employees")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return browser, jar, res
	}
	sessionToken := func(jar *cookiejar.Jar) string {
		u, _ := http.NewRequest("GET", w.base+"/", nil)
		for _, c := range jar.Cookies(u.URL) {
			if c.Name == "gatehouse_session" {
				return c.Value
			}
		}
		return ""
	}
	accessReason := func(n int, want string) {
		t.Helper()
		w.proc.waitFor(t, "the callback's access record with reason "+want, func(l map[string]any) bool {
			return l["path"] == "/auth/oauth/x/callback" && l["reason"] == want && l["status"] == float64(n)
		})
	}

	// Mapped by id: alice's session, with alice's role; the username
	// plays no part.
	browser, jar, res := login(testidp.User{Subject: "2244994945", Username: "carol", Name: "Alice on X"})
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/hr/employees" {
		t.Fatalf("after the callback: %d Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	q := idp.LastAuthorizeQuery()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Has("nonce") || q.Get("scope") != "tweet.read users.read" {
		t.Errorf("authorize request: %v", q)
	}
	if form, basic := idp.LastTokenRequest(); !basic || form.Get("code_verifier") == "" {
		t.Errorf("token request: basic %v, form %v; want Basic and a PKCE verifier", basic, form)
	}
	res, body := w.do(t, browser, "GET", "/auth/session", "", nil)
	if res.StatusCode != 200 || body["user"] != "alice" || body["provider"] != "x" || body["role"] != "hr_reader" || body["email"] != "alice@example.test" {
		t.Fatalf("session after the X login: %d %v", res.StatusCode, body)
	}
	token := sessionToken(jar)
	if token == "" {
		t.Fatal("no session cookie")
	}
	w.sessionLifecycle(t, token, "alice")

	// Mapped by username, ignoring case: carol, with the app's default role.
	browser, _, res = login(testidp.User{Subject: "999", Username: "CAROL"})
	if res.StatusCode != http.StatusFound {
		t.Fatalf("username login: %d", res.StatusCode)
	}
	if res, body := w.do(t, browser, "GET", "/auth/session", "", nil); res.StatusCode != 200 || body["user"] != "carol" || body["role"] != "guest" {
		t.Errorf("username-mapped session: %d %v", res.StatusCode, body)
	}

	// Unmapped: refused, no session, and the log names the account.
	n := w.upstreamCount()
	_, jar, res = login(testidp.User{Subject: "1000", Username: "mallory"})
	if res.StatusCode != http.StatusForbidden || sessionToken(jar) != "" {
		t.Errorf("unmapped account: %d (session %v), want 403 and none", res.StatusCode, sessionToken(jar) != "")
	}
	accessReason(403, "oauth_unknown_user")
	w.proc.waitFor(t, "the account in the refusal's log", func(l map[string]any) bool {
		e, _ := l["error"].(string)
		return l["reason"] == "oauth_unknown_user" && strings.Contains(e, "1000") && strings.Contains(e, "mallory")
	})
	// An inactive local user: refused as for email-mapped logins.
	_, jar, res = login(testidp.User{Subject: "783214", Username: "bob"})
	if res.StatusCode != http.StatusForbidden || sessionToken(jar) != "" {
		t.Errorf("inactive user: %d, want 403 and no session", res.StatusCode)
	}
	accessReason(403, "oauth_user_inactive")

	// Provider errors are mapped as for OIDC.
	idp.Deny("access_denied")
	if _, _, res = login(testidp.User{Subject: "2244994945"}); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("denied: %d, want 401", res.StatusCode)
	}
	accessReason(401, "oauth_denied")
	idp.Deny("invalid_scope")
	if _, _, res = login(testidp.User{Subject: "2244994945"}); res.StatusCode != http.StatusBadGateway {
		t.Errorf("invalid_scope: %d, want 502", res.StatusCode)
	}
	accessReason(502, "oauth_provider_error")
	// A token endpoint that refuses the code (as X does for a wrong PKCE
	// verifier): 502 oauth_failed, asked once.
	before := idp.TokenRequests()
	idp.FailToken("invalid_grant")
	if _, _, res = login(testidp.User{Subject: "2244994945"}); res.StatusCode != http.StatusBadGateway {
		t.Errorf("token refused: %d, want 502", res.StatusCode)
	}
	accessReason(502, "oauth_failed")
	if got := idp.TokenRequests() - before; got != 1 {
		t.Errorf("token requests for one refused code: %d, want 1", got)
	}
	if w.upstreamCount() != n {
		t.Error("a refused login reached the upstream")
	}
}
