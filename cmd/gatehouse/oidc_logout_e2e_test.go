package main

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// RP-initiated logout through the binary: POST /auth/logout of a session
// from an oauth block with end_session = true revokes it, clears the
// cookie and answers with the provider's end_session_endpoint, which
// sends the browser on to post_logout_redirect_url.
func TestAuthE2E_OIDCEndSession(t *testing.T) {
	port := freePort(t)
	callback := fmt.Sprintf("http://127.0.0.1:%d/auth/oauth/sso/callback", port)
	bye := fmt.Sprintf("http://127.0.0.1:%d/bye", port)
	idp := testidp.New(t, testidp.RedirectURIs(callback, bye))
	w := startAuthWorld(t, port, fmt.Sprintf(`
oauth "sso" {
  provider                 = "oidc"
  issuer                   = %q
  client_id                = %q
  client_secret            = %q
  redirect_url             = %q
  app                      = "portal"
  default_role             = "hr_reader"
  end_session              = true
  post_logout_redirect_url = %q
}
`, idp.Issuer(), idp.ClientID(), idp.ClientSecret(), callback, bye))

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) > 5 {
			return fmt.Errorf("too many redirects")
		}
		if strings.HasPrefix(req.URL.String(), w.base) && !strings.HasPrefix(req.URL.Path, "/auth/") {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	res, err := browser.Get(w.base + "/auth/oauth/sso/login?next=/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res, body := w.do(t, browser, "GET", "/auth/session", "", nil); res.StatusCode != 200 || body["provider"] != "sso" {
		t.Fatalf("session: %d %v", res.StatusCode, body)
	}

	res, body := w.do(t, browser, "POST", "/auth/logout", "", nil)
	if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("logout: %d %v", res.StatusCode, body)
	}
	raw, _ := body["end_session_url"].(string)
	u, err := url.Parse(raw)
	if err != nil || !strings.HasPrefix(raw, idp.URL()+"/logout?") {
		t.Fatalf("end_session_url %q", raw)
	}
	if q := u.Query(); q.Get("client_id") != idp.ClientID() || q.Get("post_logout_redirect_uri") != bye {
		t.Fatalf("end_session_url query %v", q)
	}
	// The local session is over, whatever the browser does next.
	if res, _ := w.do(t, browser, "GET", "/auth/session", "", nil); res.StatusCode != 401 {
		t.Fatalf("session after logout: %d", res.StatusCode)
	}
	// The provider sends the browser back to post_logout_redirect_url.
	res, err = browser.Get(raw)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != bye {
		t.Fatalf("provider logout: %d Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	if q := idp.LastLogoutQuery(); q.Get("client_id") != idp.ClientID() {
		t.Fatalf("provider saw %v", q)
	}
}
