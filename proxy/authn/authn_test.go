package authn

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy/httperr"
	"github.com/gatehouse-dev/gatehouse/proxy/session"
)

// fake answers what it is told and records that it was asked.
type fake struct {
	name  string
	res   Result
	err   error
	asked *[]string
}

func (f fake) Authenticate(*http.Request, Context) (Result, error) {
	*f.asked = append(*f.asked, f.name)
	return f.res, f.err
}

// A Chain asks in order until one is responsible; that one decides with its
// result or its refusal, and the rest are not asked.
func TestChain_OrderAndNotResponsible(t *testing.T) {
	app := &policy.App{}
	refused := httperr.Refuse(http.StatusUnauthorized, "refused", nil)
	type answer struct {
		res Result
		err error
	}
	no := answer{err: ErrNotResponsible}
	for _, c := range []struct {
		name    string
		answers []answer
		asked   []string
		want    Result
		wantErr error
	}{
		{"empty", nil, nil, Result{}, ErrNotResponsible},
		{"none responsible", []answer{no, no}, []string{"a0", "a1"}, Result{}, ErrNotResponsible},
		{"first decides", []answer{{res: Result{App: app}}, no}, []string{"a0"}, Result{App: app}, nil},
		{"not mine, then mine", []answer{no, {res: Result{Cred: CredCookie}}, no}, []string{"a0", "a1"}, Result{Cred: CredCookie}, nil},
		{"refusal stops", []answer{no, {res: Result{Cred: CredBearer}, err: refused}, {res: Result{App: app}}}, []string{"a0", "a1"}, Result{Cred: CredBearer}, refused},
		{"empty result stops", []answer{{}, {res: Result{App: app}}}, []string{"a0"}, Result{}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var asked []string
			var ch Chain
			for i, a := range c.answers {
				ch = append(ch, fake{name: "a" + string(rune('0'+i)), res: a.res, err: a.err, asked: &asked})
			}
			res, err := ch.Authenticate(httptest.NewRequest(http.MethodGet, "/", nil), Context{})
			if res != c.want || err != c.wantErr || !slices.Equal(asked, c.asked) {
				t.Errorf("got %+v, %v, asked %v; want %+v, %v, asked %v", res, err, asked, c.want, c.wantErr, c.asked)
			}
			if (Found(err) == nil) != (err == nil || err == ErrNotResponsible) {
				t.Errorf("Found(%v) = %v", err, Found(err))
			}
		})
	}
}

// The real authenticators: which requests each is responsible for, in the
// pipeline's order (API key; bearer before cookie), and their refusals.
func TestAuthenticators(t *testing.T) {
	key := "app-key-1"
	snap, err := policy.New(policy.Spec{
		Sessions: &policy.SessionsSpec{
			HMACKey: []byte("test-signing-key-0123456789abcdef-0123456789"), TTL: time.Hour,
			RefreshTTL: 24 * time.Hour, CacheSize: 100, Issuer: "gatehouse-test",
		},
		Apps: []policy.AppSpec{{Name: "app", KeySHA256: sha256.Sum256([]byte(key)), Active: true}},
	})
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check(err)
	keys := snap.SessionKeys()
	sessions, err := session.NewManager(session.Options{})
	check(err)
	t.Cleanup(sessions.Close)
	token, err := sessions.Issue(keys, &session.Session{Subject: "u", App: "app"})
	check(err)
	ctx := Context{Snap: snap, Keys: keys, Sessions: sessions}
	noSessions := Context{Snap: snap, Sessions: sessions}
	cookie := SessionCookie + "=" + token
	apps, sess := Chain{APIKey{}}, Chain{BearerSession{}, CookieSession{}}

	for _, c := range []struct {
		name   string
		chain  Chain
		c      Context
		hdr    http.Header
		app    bool // an app found
		sess   bool // a session found
		cred   Credential
		reason string // "" = no refusal; "-" = not responsible
	}{
		{"no key", apps, ctx, nil, false, false, CredNone, "-"},
		{"empty key", apps, ctx, http.Header{"X-Api-Key": {""}}, false, false, CredNone, "-"},
		{"key", apps, ctx, http.Header{"X-Api-Key": {key}}, true, false, CredNone, ""},
		{"two keys", apps, ctx, http.Header{"X-Api-Key": {key, key}}, false, false, CredNone, ReasonAmbiguousAPIKey},
		{"unknown key", apps, ctx, http.Header{"X-Api-Key": {"nope"}}, false, false, CredNone, ReasonUnknownAPIKey},

		{"no session credential", sess, ctx, nil, false, false, CredNone, "-"},
		{"other scheme", sess, ctx, http.Header{"Authorization": {"Basic eDp5"}}, false, false, CredNone, "-"},
		{"bearer", sess, ctx, http.Header{"Authorization": {"Bearer " + token}}, false, true, CredBearer, ""},
		{"cookie", sess, ctx, http.Header{"Cookie": {cookie}}, false, true, CredCookie, ""},
		{"other scheme, then cookie", sess, ctx, http.Header{"Authorization": {"Basic eDp5"}, "Cookie": {cookie}}, false, true, CredCookie, ""},
		{"bearer hides two cookies", sess, ctx, http.Header{"Authorization": {"Bearer " + token}, "Cookie": {cookie + "; " + cookie}}, false, true, CredBearer, ""},
		{"empty bearer, cookie not asked", sess, ctx, http.Header{"Authorization": {"Bearer "}, "Cookie": {cookie}}, false, false, CredBearer, ReasonSessionMalformed},
		{"bearer scheme alone, cookie not asked", sess, ctx, http.Header{"Authorization": {"bearer"}, "Cookie": {cookie}}, false, false, CredBearer, ReasonSessionMalformed},
		{"tab after the scheme", sess, ctx, http.Header{"Authorization": {"Bearer\t" + token}, "Cookie": {cookie}}, false, true, CredBearer, ""},
		{"scheme that starts like bearer", sess, ctx, http.Header{"Authorization": {"Bearerx " + token}, "Cookie": {cookie}}, false, true, CredCookie, ""},
		{"two authorization headers", sess, ctx, http.Header{"Authorization": {"Bearer " + token, "Basic eDp5"}}, false, false, CredNone, ReasonAmbiguousAuthorization},
		{"two cookies", sess, ctx, http.Header{"Cookie": {cookie + "; " + cookie}}, false, false, CredNone, ReasonAmbiguousSessionCookie},
		{"bad bearer", sess, ctx, http.Header{"Authorization": {"Bearer x.y.z"}}, false, false, CredBearer, ReasonSessionMalformed},
		{"bad cookie", sess, ctx, http.Header{"Cookie": {SessionCookie + "=x.y.z"}}, false, false, CredCookie, ReasonSessionMalformed},
		{"no sessions block", sess, noSessions, http.Header{"Authorization": {"Bearer " + token, "x"}, "Cookie": {cookie}}, false, false, CredNone, "-"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header = c.hdr
			if r.Header == nil {
				r.Header = http.Header{}
			}
			res, err := c.chain.Authenticate(r, c.c)
			reason := ""
			var he *httperr.Error
			switch {
			case errors.Is(err, ErrNotResponsible):
				reason = "-"
			case errors.As(err, &he):
				reason = he.Reason
			case err != nil:
				t.Fatalf("error %v", err)
			}
			if reason != c.reason || (res.App != nil) != c.app || (res.Session != nil) != c.sess || res.Cred != c.cred {
				t.Errorf("got app %v, session %v, cred %d, reason %q; want %v, %v, %d, %q",
					res.App != nil, res.Session != nil, res.Cred, reason, c.app, c.sess, c.cred, c.reason)
			}
		})
	}
}

// SessionFailure: the session errors map to 401 reasons, and a failing
// revocation store to 503 (the session is refused, not let through).
func TestSessionFailure(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		reason string
	}{
		{session.ErrRevoked, http.StatusUnauthorized, ReasonSessionRevoked},
		{session.ErrExpired, http.StatusUnauthorized, ReasonSessionExpired},
		{errors.New("other"), http.StatusUnauthorized, ReasonSessionInvalid},
		{fmt.Errorf("%w: %w", session.ErrUnavailable, errors.New("down")), http.StatusServiceUnavailable, ReasonStoreUnavailable},
	} {
		if e := SessionFailure(c.err); e.Status != c.status || e.Reason != c.reason {
			t.Errorf("SessionFailure(%v) = %d %s, want %d %s", c.err, e.Status, e.Reason, c.status, c.reason)
		}
	}
}

func TestBearer(t *testing.T) {
	for _, c := range []struct {
		v, token string
		ok       bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer  abc ", "abc", true},
		{"BEARER\tabc", "abc", true},
		{"Bearer", "", true},
		{"Bearer ", "", true},
		{"Bearerabc", "", false},
		{"Bear", "", false},
		{"", "", false},
		{"Basic abc", "", false},
		{"Bearer-Token abc", "", false},
	} {
		token, ok := Bearer(c.v)
		if token != c.token || ok != c.ok {
			t.Errorf("Bearer(%q) = %q, %v; want %q, %v", c.v, token, ok, c.token, c.ok)
		}
	}
}
