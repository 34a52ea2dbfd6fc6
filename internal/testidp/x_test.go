package testidp_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// GET /2/users/me answers as X does: the id and username for a token with
// users.read and tweet.read, 403 without them, 401 without a token.
func TestXUsersMe(t *testing.T) {
	idp, _, cfg := newIdP(t)
	idp.SetUser(testidp.User{Subject: "2244994945", Name: "X Developers", Username: "XDevelopers"})
	get := func(token string) (int, map[string]map[string]string) {
		t.Helper()
		req, _ := http.NewRequest("GET", idp.XAPIURL()+"/users/me", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := (&http.Client{}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body map[string]map[string]string
		_ = json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body
	}
	cfg.Scopes = []string{"tweet.read", "users.read"}
	tok, _, err := login(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Extra("id_token") != nil {
		t.Error("an id_token without the openid scope")
	}
	status, body := get(tok.AccessToken)
	if d := body["data"]; status != 200 || d["id"] != "2244994945" || d["username"] != "XDevelopers" || d["name"] != "X Developers" {
		t.Errorf("users/me: %d %v", status, body)
	}
	cfg.Scopes = []string{"users.read"}
	tok, _, err = login(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := get(tok.AccessToken); status != http.StatusForbidden {
		t.Errorf("users/me without tweet.read: %d, want 403", status)
	}
	if status, _ := get(""); status != http.StatusUnauthorized {
		t.Errorf("users/me without a token: %d, want 401", status)
	}
	if n := idp.XRequests(); n != 3 {
		t.Errorf("XRequests = %d, want 3", n)
	}
	// A non-numeric subject gets the fixed id, an empty username the default.
	if id, name := testidp.XUser(testidp.User{Subject: "u-alice"}); id != testidp.XUserID || name != testidp.DefaultXUsername {
		t.Errorf("XUser = %q, %q", id, name)
	}
}
