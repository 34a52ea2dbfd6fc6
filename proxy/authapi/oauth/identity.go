package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// flexBool is a JSON boolean that some providers send as "true"/"false".
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case "true", `"true"`:
		*b = true
	case "false", `"false"`, "null":
		*b = false
	default:
		return errors.New("invalid boolean")
	}
	return nil
}

// profileClaims are the ID token and userinfo claims gatehouse uses.
type profileClaims struct {
	Subject       string   `json:"sub"`
	Email         string   `json:"email"`
	EmailVerified flexBool `json:"email_verified"`
	Name          string   `json:"name"`
}

// oidcIdentity verifies the ID token in tok and the nonce. When the ID
// token carries no email, the userinfo endpoint is asked (and must report
// the same subject).
func (f *Flows) oidcIdentity(ctx context.Context, cfg Config, p *resolved, tok *oauth2.Token, nonce string) (Identity, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, f.providerErr(cfg, "token response without id_token", nil)
	}
	// go-oidc checks exp without leeway and nbf with a fixed 5 minutes,
	// and not iat: the times are checked here, with cfg.ClockSkew.
	verifier := p.oidc.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: f.now, SkipExpiryCheck: true})
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		// go-oidc's messages name the failed check, never the token.
		return Identity{}, f.providerErr(cfg, "id token rejected", err)
	}
	var times struct {
		Exp *float64 `json:"exp"`
		Nbf *float64 `json:"nbf"`
		Iat *float64 `json:"iat"`
	}
	if err := idt.Claims(&times); err != nil {
		return Identity{}, f.providerErr(cfg, "id token rejected: bad time claims", nil)
	}
	if err := checkTimes(times.Exp, times.Nbf, times.Iat, f.now(), cfg.ClockSkew); err != nil {
		return Identity{}, f.providerErr(cfg, "id token rejected", err)
	}
	if nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return Identity{}, f.providerErr(cfg, "id token rejected: nonce mismatch", nil)
	}
	var c profileClaims
	if err := idt.Claims(&c); err != nil {
		return Identity{}, f.providerErr(cfg, "id token claims", err)
	}
	if idt.Subject == "" {
		return Identity{}, f.providerErr(cfg, "id token without subject", nil)
	}
	var idClaims map[string]json.RawMessage
	if len(cfg.Lookups) > 0 {
		if err := idt.Claims(&idClaims); err != nil {
			return Identity{}, f.providerErr(cfg, "id token claims", err)
		}
	}
	var uiClaims map[string]json.RawMessage
	if (c.Email == "" || needUserinfo(cfg.Lookups, idClaims)) && p.oidc.UserInfoEndpoint() != "" {
		var body json.RawMessage
		if err := f.getJSON(ctx, p.oidc.UserInfoEndpoint(), tok.AccessToken, nil, &body); err != nil {
			return Identity{}, f.providerErr(cfg, "userinfo", err)
		}
		var ui profileClaims
		if err := json.Unmarshal(body, &ui); err != nil || (len(cfg.Lookups) > 0 && json.Unmarshal(body, &uiClaims) != nil) {
			return Identity{}, f.providerErr(cfg, "userinfo", errors.New("bad JSON response"))
		}
		if ui.Subject != idt.Subject {
			return Identity{}, f.providerErr(cfg, "userinfo subject differs from the id token's", nil)
		}
		if c.Email == "" {
			c.Email, c.EmailVerified = ui.Email, ui.EmailVerified
		}
		if c.Name == "" {
			c.Name = ui.Name
		}
	}
	id := Identity{Subject: idt.Subject, Email: c.Email, EmailVerified: bool(c.EmailVerified), Name: c.Name}
	if len(cfg.Lookups) > 0 {
		var l Captured
		l.Values, l.Refused = claimLookups(cfg.Lookups, idClaims, uiClaims)
		id.Lookups = &l
	}
	return id, nil
}

// checkTimes checks an ID token's exp (required), nbf and iat (optional,
// as OIDC Core 2 lets nbf be absent; iat is required there but some
// providers omit it, and go-oidc never checked it) against now, allowing
// skew either way: the token is refused when now is past exp + skew,
// before nbf - skew, or before iat - skew (issued in the future).
func checkTimes(exp, nbf, iat *float64, now time.Time, skew time.Duration) error {
	at := func(f float64) time.Time {
		f = max(min(f, 1<<40), -(1 << 40)) // far enough; keeps the conversion defined
		sec := math.Floor(f)
		return time.Unix(int64(sec), int64((f-sec)*1e9))
	}
	switch {
	case exp == nil:
		return errors.New("no exp claim")
	case now.After(at(*exp).Add(skew)):
		return fmt.Errorf("expired at %s, now %s (clock_skew %s)", at(*exp).UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), skew)
	case nbf != nil && now.Add(skew).Before(at(*nbf)):
		return fmt.Errorf("not valid before %s, now %s (clock_skew %s)", at(*nbf).UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), skew)
	case iat != nil && now.Add(skew).Before(at(*iat)):
		return fmt.Errorf("issued in the future at %s, now %s (clock_skew %s)", at(*iat).UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), skew)
	}
	return nil
}

// githubIdentity reads GET /user and GET /user/emails. The email is the
// primary one, verified or not (EmailVerified says which). Without access
// to /user/emails (403/404: scope not granted) the public profile email is
// used, unverified.
func (f *Flows) githubIdentity(ctx context.Context, cfg Config, p *resolved, tok *oauth2.Token) (Identity, error) {
	var user struct {
		ID    int64  `json:"id"`
		Login string `json:"login"`
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	if err := f.getJSON(ctx, p.apiURL+"/user", tok.AccessToken, githubHeader(), &user); err != nil {
		return Identity{}, f.providerErr(cfg, "github user", err)
	}
	if user.ID == 0 {
		return Identity{}, f.providerErr(cfg, "github user without id", nil)
	}
	id := Identity{Subject: strconv.FormatInt(user.ID, 10), Name: orDefault(user.Name, user.Login)}

	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	err := f.getJSON(ctx, p.apiURL+"/user/emails", tok.AccessToken, githubHeader(), &emails)
	var se *statusError
	switch {
	case errors.As(err, &se) && (se.code == http.StatusForbidden || se.code == http.StatusNotFound):
		id.Email = user.Email
	case err != nil:
		return Identity{}, f.providerErr(cfg, "github emails", err)
	default:
		for _, e := range emails {
			if e.Primary {
				id.Email, id.EmailVerified = e.Email, e.Verified
				break
			}
		}
	}
	return id, nil
}

// facebookIdentity reads GET /me?fields=id,name,email with an
// appsecret_proof. Facebook only returns confirmed addresses, so the email
// counts as verified.
func (f *Flows) facebookIdentity(ctx context.Context, cfg Config, p *resolved, tok *oauth2.Token) (Identity, error) {
	q := url.Values{"fields": {"id,name,email"}}
	if cfg.ClientSecret != "" {
		m := hmac.New(sha256.New, []byte(cfg.ClientSecret))
		m.Write([]byte(tok.AccessToken))
		q.Set("appsecret_proof", hex.EncodeToString(m.Sum(nil)))
	}
	var me struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	if err := f.getJSON(ctx, p.apiURL+"/me?"+q.Encode(), tok.AccessToken, nil, &me); err != nil {
		return Identity{}, f.providerErr(cfg, "facebook me", err)
	}
	if me.ID == "" {
		return Identity{}, f.providerErr(cfg, "facebook user without id", nil)
	}
	return Identity{Subject: me.ID, Email: me.Email, EmailVerified: me.Email != "", Name: me.Name}, nil
}

// statusError is a non-200 API response. The body is not kept.
type statusError struct {
	path string
	code int
}

func (e *statusError) Error() string {
	return fmt.Sprintf("GET %s: HTTP %d", e.path, e.code)
}

// githubHeader asks the GitHub REST API for its documented media type and
// version.
func githubHeader() map[string]string {
	return map[string]string{
		"Accept":               "application/vnd.github+json",
		"X-GitHub-Api-Version": "2022-11-28",
	}
}

// getJSON GETs rawURL with the bearer token (and header) and decodes a JSON
// body of at most maxBody bytes into out. Its errors carry neither the token
// nor the query string nor the response body.
func (f *Flows) getJSON(ctx context.Context, rawURL, token string, header map[string]string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return errors.New("bad API URL")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return redactURL(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		return &statusError{path: req.URL.Path, code: resp.StatusCode}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("GET %s: reading body: %w", req.URL.Path, redactURL(err))
	}
	if len(body) > maxBody {
		return fmt.Errorf("GET %s: response too large", req.URL.Path)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: bad JSON response", req.URL.Path)
	}
	return nil
}

// xIdentity reads GET {api}/users/me of the X API v2 (default fields: id,
// name, username). X gives no email. The id is X's immutable user id, a
// decimal number; the username (the handle, without "@") is one its owner
// may change and X compares without case. Either one malformed fails the
// login: both may be used to map the user to a local one.
func (f *Flows) xIdentity(ctx context.Context, cfg Config, p *resolved, tok *oauth2.Token) (Identity, error) {
	var me struct {
		Data struct {
			ID       string `json:"id"`
			Username string `json:"username"`
			Name     string `json:"name"`
		} `json:"data"`
	}
	if err := f.getJSON(ctx, p.apiURL+"/users/me", tok.AccessToken, nil, &me); err != nil {
		return Identity{}, f.providerErr(cfg, "x users/me", err)
	}
	d := me.Data
	if !policy.ValidXUserID(d.ID) {
		return Identity{}, f.providerErr(cfg, "x users/me without a numeric user id", nil)
	}
	if !validXUsername(d.Username) {
		return Identity{}, f.providerErr(cfg, "x users/me without a well-formed username", nil)
	}
	return Identity{Subject: d.ID, Username: d.Username, Name: d.Name}, nil
}

// validXUsername accepts what X allows in a username (letters, digits,
// underscore; 15 at most today), up to 50 bytes for older accounts.
func validXUsername(s string) bool {
	if s == "" || len(s) > 50 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
