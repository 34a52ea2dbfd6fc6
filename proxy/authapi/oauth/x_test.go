package oauth_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testidp"
	"github.com/gatehouse-dev/gatehouse/proxy/authapi/oauth"
)

// xBlock is a provider "x" block whose endpoints are idp's.
func xBlock(idp *testidp.IdP, base, name string) oauth.Config {
	c := apiBlock(idp, base, name, oauth.ProviderX)
	c.APIURL = idp.XAPIURL()
	return c
}

// An X login: PKCE S256 (checked by the IdP at the token endpoint), no
// nonce, the scopes users/me needs, HTTP Basic client authentication (the
// IdP accepts nothing else here, as X does from confidential clients),
// and the id and username of /2/users/me.
func TestXLogin(t *testing.T) {
	idp := testidp.New(t, testidp.AuthMethods(testidp.AuthBasic))
	g := newGatehouse(t, oauth.Options{}, func(base string) []oauth.Config {
		return []oauth.Config{xBlock(idp, base, "x")}
	})
	idp.SetUser(testidp.User{Subject: "2244994945", Name: "X Developers", Username: "XDevelopers"})
	want := oauth.Identity{Provider: oauth.ProviderX, Subject: "2244994945", Username: "XDevelopers", Name: "X Developers"}
	wantIdentity(t, g.login(newBrowser(t), "x", "/home"), want, "/home")
	q := idp.LastAuthorizeQuery()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Has("nonce") || q.Get("scope") != "tweet.read users.read" {
		t.Fatalf("authorize query: %v", q)
	}
	if m, _ := idp.LastTokenAuth(); m != testidp.AuthBasic {
		t.Errorf("token endpoint auth %q, want %q", m, testidp.AuthBasic)
	}
	if form, _ := idp.LastTokenRequest(); form.Get("code_verifier") == "" || form.Has("client_secret") {
		t.Errorf("token request form %v: want a code_verifier and no secret", form)
	}
	if idp.XRequests() != 1 {
		t.Errorf("users/me asked %d times, want 1", idp.XRequests())
	}
}

// Scopes without tweet.read: X refuses users/me (403), and so does the
// login, as a provider failure.
func TestXLoginWithoutScopes(t *testing.T) {
	idp := testidp.New(t)
	g := newGatehouse(t, oauth.Options{}, func(base string) []oauth.Config {
		c := xBlock(idp, base, "x")
		c.Scopes = []string{"users.read"}
		return []oauth.Config{c}
	})
	wantErr(t, g.login(newBrowser(t), "x", "/"), oauth.ErrProvider, "x users/me: GET /2/users/me: HTTP 403")
}

// What /2/users/me must say for the login to go on: a numeric id and a
// username of X's alphabet; anything else fails closed.
func TestXUsersMeAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		status     int
		err        string // "" = logged in
	}{
		{"ok", `{"data":{"id":"12","username":"jack","name":"Jack"}}`, 200, ""},
		{"no id", `{"data":{"username":"jack"}}`, 200, "without a numeric user id"},
		{"id not a number", `{"data":{"id":"u-12","username":"jack"}}`, 200, "without a numeric user id"},
		{"id with a leading zero", `{"data":{"id":"012","username":"jack"}}`, 200, "without a numeric user id"},
		{"numeric id", `{"data":{"id":12,"username":"jack"}}`, 200, "bad JSON response"},
		{"no username", `{"data":{"id":"12"}}`, 200, "without a well-formed username"},
		{"username with @", `{"data":{"id":"12","username":"@jack"}}`, 200, "without a well-formed username"},
		{"username with a space", `{"data":{"id":"12","username":"ja ck"}}`, 200, "without a well-formed username"},
		{"errors only", `{"errors":[{"title":"Not Found Error"}]}`, 200, "without a numeric user id"},
		{"rate limited", `{"title":"Too Many Requests"}`, 429, "HTTP 429"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/2/users/me" || r.Header.Get("Authorization") == "" {
					http.Error(w, "unexpected request", http.StatusBadRequest)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			t.Cleanup(api.Close)
			idp := testidp.New(t)
			g := newGatehouse(t, oauth.Options{}, func(base string) []oauth.Config {
				c := xBlock(idp, base, "x")
				c.APIURL = api.URL + "/2/" // a trailing slash is dropped
				return []oauth.Config{c}
			})
			r := g.login(newBrowser(t), "x", "/")
			if tc.err == "" {
				wantIdentity(t, r, oauth.Identity{Provider: oauth.ProviderX, Subject: "12", Username: "jack", Name: "Jack"}, "/")
				return
			}
			wantErr(t, r, oauth.ErrProvider, tc.err)
		})
	}
}

// Without overrides, Begin sends the browser to X's authorization
// endpoint, with PKCE and without a nonce.
func TestXBeginDefaults(t *testing.T) {
	cfg := oauth.Config{
		Name: "x", Provider: oauth.ProviderX, ClientID: "cid", ClientSecret: "shh",
		RedirectURL: "https://gate.example.test/auth/oauth/x/callback",
	}
	w, err := begin(t, oauth.NewFlows(oauth.Options{}), cfg, "/", true)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := url.Parse(w.Result().Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != oauth.XAuthURL {
		t.Errorf("authorization endpoint %q, want %q", got, oauth.XAuthURL)
	}
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Has("nonce") ||
		q.Get("scope") != "tweet.read users.read" || q.Get("client_id") != "cid" || q.Get("response_type") != "code" {
		t.Errorf("authorization query %v", q)
	}
}
