package authapi

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy/authapi/ldapauth"
	"github.com/gatehouse-dev/gatehouse/proxy/authapi/oauth"
	"github.com/gatehouse-dev/gatehouse/proxy/httperr"
	"github.com/gatehouse-dev/gatehouse/proxy/session"
	"github.com/gatehouse-dev/gatehouse/settings"
)

// Reasons of the provider flows.
const (
	reasonOAuthLogin      = "oauth_login"
	reasonOAuthRedirect   = "oauth_redirect"
	reasonOAuthBadNext    = "oauth_bad_next"
	reasonOAuthBadState   = "oauth_bad_state"
	reasonOAuthDenied     = "oauth_denied"
	reasonOAuthInteract   = "oauth_interaction_required"
	reasonOAuthRefused    = "oauth_provider_error"
	reasonOAuthFailed     = "oauth_failed"
	reasonOAuthUnverified = "oauth_user_inactive"
	reasonOAuthUnmapped   = "oauth_unknown_user"
)

// loginLDAP checks a username and password against the ldap block named by
// the request's provider. A directory that cannot be reached is a 503, not
// a wrong password.
func (c call) loginLDAP(app *policy.App, req LoginRequest) (*session.Session, error) {
	l, ok := c.Snap.LDAP(req.Provider)
	if !ok {
		if _, isOAuth := c.Snap.OAuth(req.Provider); isOAuth {
			return nil, refuse(http.StatusBadRequest, reasonUnknownProvider,
				errors.New("OAuth providers log in through "+Prefix+"oauth/"+req.Provider+"/login"))
		}
		return nil, refuse(http.StatusBadRequest, reasonUnknownProvider, nil)
	}
	conn, ok := c.Runtime.LDAPProvider(l.Name())
	if !ok {
		return nil, noSettings("ldap", l.Name())
	}
	ctx, cancel := c.loginContext()
	defer cancel()
	select {
	case c.h.ldapSem <- struct{}{}:
	case <-ctx.Done():
		return nil, refuse(http.StatusServiceUnavailable, reasonBusy, ctx.Err())
	}
	entry, err := ldapauth.Authenticate(ctx, ldapConfig(conn), req.Username, req.Password)
	<-c.h.ldapSem
	switch {
	case errors.Is(err, ldapauth.ErrInvalidCredentials):
		return nil, refuse(http.StatusUnauthorized, reasonInvalidCredentials, nil)
	case err != nil:
		return nil, refuse(http.StatusServiceUnavailable, reasonDirectoryDown, err)
	}
	for _, name := range entry.MultiValued {
		c.h.log.Warn("lookup not captured", "provider", l.Name(), "user", entry.Username, "lookup", name,
			"attribute", conn.Lookups[name], "why", "several values")
	}
	return &session.Session{
		Subject: entry.Username, App: app.Name(), Provider: l.Name(), Groups: entry.Groups, Email: entry.Email,
		Lookups: c.captured(l.Name(), entry.Username, entry.Lookups),
	}, nil
}

// noSettings is the refusal of a login through a provider of the snapshot
// whose connection settings the request's Runtime lacks (config compiles
// both together, so this is a bug of the caller of Server.Load).
func noSettings(kind, name string) *httperr.Error {
	return refuse(http.StatusInternalServerError, httperr.ReasonInternal,
		errors.New(kind+" "+strconv.Quote(name)+": no connection settings in the runtime settings loaded with the snapshot"))
}

func ldapConfig(s settings.LDAP) ldapauth.Config {
	return ldapauth.Config{
		Name: s.Name, URL: s.URL, StartTLS: s.StartTLS, RootCAs: s.RootCAs,
		BindDN: s.BindDN, BindPassword: s.BindPassword,
		UserBase: s.UserBase, UserFilter: s.UserFilter,
		GroupBase: s.GroupBase, GroupFilter: s.GroupFilter, GroupAttr: s.GroupAttr,
		EmailAttr: s.EmailAttr, Timeout: s.Timeout, Lookups: s.Lookups,
	}
}

func oauthConfig(s settings.OAuth) oauth.Config {
	return oauth.Config{
		Name: s.Name, Provider: s.Provider, ClientID: s.ClientID, ClientSecret: s.ClientSecret,
		RedirectURL: s.RedirectURL, Issuer: s.Issuer, Scopes: s.Scopes,
		AuthURL: s.AuthURL, TokenURL: s.TokenURL, APIURL: s.APIURL,
		TokenAuthMethod: s.TokenAuthMethod, PrivateKey: s.PrivateKey, PrivateKeyID: s.PrivateKeyID,
		ClientAssertionAudience: s.ClientAssertionAudience, ClockSkew: s.ClockSkew,
		EndSession: s.EndSession, PostLogoutRedirectURL: s.PostLogoutRedirectURL,
		Lookups: s.Lookups,
	}
}

// oauth serves /auth/oauth/{name}/login and /auth/oauth/{name}/callback.
func (c call) oauth(rest string) error {
	name, action, _ := strings.Cut(rest, "/")
	o, ok := c.Snap.OAuth(name)
	if !ok || (action != "login" && action != "callback") {
		return refuse(http.StatusNotFound, reasonNoEndpoint, nil)
	}
	if err := c.needMethod(http.MethodGet); err != nil {
		return err
	}
	c.Ident.App = o.App()
	conn, ok := c.Runtime.OAuthProvider(o.Name())
	if !ok {
		return noSettings("oauth", o.Name())
	}
	cfg := oauthConfig(conn)
	cfg.Key = c.h.keys.get(c.Keys).binding
	ctx, cancel := c.loginContext()
	defer cancel()
	if action == "login" {
		err := c.h.flows.Begin(ctx, c.W, c.R, cfg, c.R.URL.Query().Get("next"), c.cookieSecure())
		if err != nil {
			return oauthFailure(err)
		}
		c.Status, c.Reason = http.StatusFound, reasonOAuthRedirect
		return nil
	}
	id, next, err := c.h.flows.Complete(ctx, c.W, c.R, cfg, c.Client, c.cookieSecure())
	if err != nil {
		return oauthFailure(err)
	}
	s, err := c.oauthSession(o, id)
	if err != nil {
		return err
	}
	c.Ident.User = s.Subject
	keys := c.Keys
	token, err := c.h.sessions.Issue(keys, s)
	if err != nil {
		return refuse(http.StatusInternalServerError, httperr.ReasonInternal, err)
	}
	c.setSessionCookie(token, s.AuthTime.Add(keys.RefreshTTL()))
	h := c.W.Header()
	h["Cache-Control"] = []string{"no-store"}
	h["Location"] = []string{next}
	c.Status, c.Reason = http.StatusFound, reasonOAuthLogin
	c.W.WriteHeader(http.StatusFound)
	return nil
}

// oauthSession maps a provider identity to a session. A verified email
// that belongs to a local user makes it that user's session (with that
// user's roles); anyone else is the provider's subject with the block's
// default_role.
func (c call) oauthSession(o *policy.OAuth, id oauth.Identity) (*session.Session, error) {
	if o.MappedOnly() {
		return c.accountSession(o, id)
	}
	// Only a verified email is kept: it reaches upstreams ({user.email},
	// filters), and an unverified one is whatever the user typed.
	s := &session.Session{App: o.App().Name(), Provider: o.Name(), Subject: id.Subject}
	if id.Email != "" && id.EmailVerified {
		s.Email = id.Email
		if u, ok := c.Snap.UserByEmail(id.Email); ok {
			if !u.Active() {
				return nil, refuse(http.StatusForbidden, reasonOAuthUnverified, nil)
			}
			s.Subject, s.Local = u.Name(), true
		}
	}
	if l := id.Lookups; l != nil {
		for _, name := range slices.Sorted(maps.Keys(l.Refused)) {
			c.h.log.Warn("lookup not captured", "provider", o.Name(), "user", s.Subject, "lookup", name, "why", l.Refused[name])
		}
		s.Lookups = c.captured(o.Name(), s.Subject, l.Values)
	}
	return s, nil
}

// accountSession maps a login through a provider that admits only mapped
// accounts (x) to the local user the block's table names for the
// provider's user id, or whose name matches the username (match_username):
// that user's session, with that user's roles and configured email. An
// account mapped to no local user is refused with 403 oauth_unknown_user,
// one mapped to an inactive user with 403 oauth_user_inactive; the log
// names the account (id and username, as the provider vouched for them),
// so that an operator can add it to the table.
func (c call) accountSession(o *policy.OAuth, id oauth.Identity) (*session.Session, error) {
	u, _, ok := o.Account(id.Subject, id.Username)
	switch {
	case !ok:
		return nil, refuse(http.StatusForbidden, reasonOAuthUnmapped,
			fmt.Errorf("oauth %q: account id %s (username %q) is mapped to no local user", o.Name(), id.Subject, id.Username))
	case !u.Active():
		return nil, refuse(http.StatusForbidden, reasonOAuthUnverified, nil)
	}
	return &session.Session{App: o.App().Name(), Provider: o.Name(), Subject: u.Name(), Local: true, Email: u.Email()}, nil
}

func oauthFailure(err error) *httperr.Error {
	switch {
	case errors.Is(err, oauth.ErrUnavailable):
		return storeUnavailable(err)
	case errors.Is(err, oauth.ErrBadNext):
		return refuse(http.StatusBadRequest, reasonOAuthBadNext, err)
	case errors.Is(err, oauth.ErrBadState):
		return refuse(http.StatusBadRequest, reasonOAuthBadState, err)
	case errors.Is(err, oauth.ErrDenied):
		return refuse(http.StatusUnauthorized, reasonOAuthDenied, err)
	case errors.Is(err, oauth.ErrInteraction):
		return refuse(http.StatusUnauthorized, reasonOAuthInteract, err)
	case errors.Is(err, oauth.ErrRefused):
		return refuse(http.StatusBadGateway, reasonOAuthRefused, err)
	}
	return refuse(http.StatusBadGateway, reasonOAuthFailed, err)
}

// endSessionURL is where the browser goes to end the provider's session
// after logging out of s, when s comes from an oauth block with
// end_session = true whose provider advertises an end_session_endpoint;
// else "". A provider that cannot be asked costs nothing but the
// redirect: the local logout is done (the flows log a warning).
func (c call) endSessionURL(s *session.Session) string {
	if _, ok := c.Snap.OAuth(s.Provider); !ok {
		return ""
	}
	conn, ok := c.Runtime.OAuthProvider(s.Provider)
	if !ok || !conn.EndSession {
		return ""
	}
	ctx, cancel := c.loginContext()
	defer cancel()
	return c.h.flows.EndSessionURL(ctx, oauthConfig(conn))
}
