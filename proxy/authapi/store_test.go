package authapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy/authapi/oauth"
	"github.com/gatehouse-dev/gatehouse/proxy/authn"
	"github.com/gatehouse-dev/gatehouse/proxy/httperr"
	"github.com/gatehouse-dev/gatehouse/proxy/session"
	"github.com/gatehouse-dev/gatehouse/store"
	"github.com/gatehouse-dev/gatehouse/store/memstore"
)

var errDown = errors.New("backend down")

// flakyBudgets is the memory store behind a backend whose Spent or Spend
// fails when told to.
type flakyBudgets struct {
	*memstore.Budgets
	spentDown, spendDown atomic.Bool
}

func (f *flakyBudgets) Spent(ctx context.Context, limits ...store.Limit) (bool, error) {
	if f.spentDown.Load() {
		return false, errDown
	}
	return f.Budgets.Spent(ctx, limits...)
}

func (f *flakyBudgets) Spend(ctx context.Context, limits ...store.Limit) error {
	if f.spendDown.Load() {
		return errDown
	}
	return f.Budgets.Spend(ctx, limits...)
}

// flakyRevocations is the memory store behind a backend whose Revoke
// fails when told to.
type flakyRevocations struct {
	*memstore.Revocations
	down atomic.Bool
}

func (f *flakyRevocations) Revoke(ctx context.Context, id string, until time.Time) (bool, error) {
	if f.down.Load() {
		return false, errDown
	}
	return f.Revocations.Revoke(ctx, id, until)
}

// storeHandler is an admin's Handler over stores that fail on demand.
type storeHandler struct {
	h       *Handler
	snap    *policy.Snapshot
	keys    *policy.SessionKeys
	budgets *flakyBudgets
	revs    *flakyRevocations
}

func newStoreHandler(t *testing.T) *storeHandler {
	t.Helper()
	snap := adminSnapshot(t)
	keys := snap.SessionKeys()
	revs := &flakyRevocations{Revocations: memstore.NewRevocations(nil)}
	sessions, err := session.NewManager(session.Options{Revocations: revs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sessions.Close)
	budgets := &flakyBudgets{Budgets: memstore.NewBudgets(10, nil)}
	h := New(Options{Sessions: sessions, LoginBudgets: budgets})
	return &storeHandler{h: h, snap: snap, keys: keys, budgets: budgets, revs: revs}
}

func (sh *storeHandler) serve(method, path, body, bearer string) (*Request, *httptest.ResponseRecorder, error) {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	w := httptest.NewRecorder()
	q := &Request{W: w, R: r, Path: path, Snap: sh.snap, Keys: sh.keys, Client: netip.MustParseAddr("192.0.2.1"), ID: "req"}
	return q, w, sh.h.Serve(q)
}

func (sh *storeHandler) login(t *testing.T, pw string) (string, error) {
	t.Helper()
	_, w, err := sh.serve(http.MethodPost, "/auth/login", fmt.Sprintf(`{"username":"root","password":%q}`, pw), "")
	if err != nil {
		return "", err
	}
	var tr TokenResponse
	if err := json.Unmarshal(w.Body.Bytes(), &tr); err != nil {
		t.Fatal(err)
	}
	return tr.SessionToken, nil
}

// wantStoreUnavailable checks that err is the 503 of a failed store.
func wantStoreUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	var e *httperr.Error
	if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable || e.Reason != authn.ReasonStoreUnavailable || !errors.Is(err, errDown) {
		t.Errorf("%s: %v, want 503 %s", what, err, authn.ReasonStoreUnavailable)
	}
}

// The handler fails closed when a store fails: a login whose budget cannot
// be read is refused before any password is checked, a failed login whose
// failure cannot be counted is refused with 503 rather than a plain 401,
// and a refresh or logout whose revocation cannot be recorded issues no
// token and does not report success.
func TestHandler_StoreErrorsFailClosed(t *testing.T) {
	sh := newStoreHandler(t)

	sh.budgets.spentDown.Store(true)
	_, err := sh.login(t, "rootpw")
	wantStoreUnavailable(t, "login with budgets down", err)
	if n := sh.h.PasswordChecks(); n != 0 {
		t.Errorf("%d passwords checked while the budgets were down", n)
	}
	sh.budgets.spentDown.Store(false)

	sh.budgets.spendDown.Store(true)
	_, err = sh.login(t, "wrong")
	wantStoreUnavailable(t, "failed login that cannot be counted", err)
	tok, err := sh.login(t, "rootpw") // success spends nothing
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	sh.budgets.spendDown.Store(false)

	sh.revs.down.Store(true)
	q, w, err := sh.serve(http.MethodPost, "/auth/refresh", "", tok)
	wantStoreUnavailable(t, "refresh with revocations down", err)
	if q.Status != 0 || w.Body.Len() != 0 {
		t.Errorf("refresh with revocations down wrote %d %q", q.Status, w.Body)
	}
	q, w, err = sh.serve(http.MethodPost, "/auth/logout", "", tok)
	wantStoreUnavailable(t, "logout with revocations down", err)
	if q.Status != 0 || w.Header().Get("Set-Cookie") != "" {
		t.Errorf("logout with revocations down: status %d, Set-Cookie %q", q.Status, w.Header().Get("Set-Cookie"))
	}
	sh.revs.down.Store(false)

	// Back up: the token was never revoked, and refresh works once.
	if q, _, err := sh.serve(http.MethodPost, "/auth/refresh", "", tok); err != nil || q.Status != http.StatusOK {
		t.Fatalf("refresh after the store came back: %v (status %d)", err, q.Status)
	}
	_, _, err = sh.serve(http.MethodPost, "/auth/refresh", "", tok)
	var e *httperr.Error
	if !errors.As(err, &e) || e.Reason != authn.ReasonSessionRevoked {
		t.Errorf("second refresh: %v, want %s", err, authn.ReasonSessionRevoked)
	}
}

// A failing store of OAuth states refuses the callback with 503.
func TestOAuthFailure_StoreUnavailable(t *testing.T) {
	err := oauthFailure(fmt.Errorf("%w: %w", oauth.ErrUnavailable, errDown))
	wantStoreUnavailable(t, "oauth callback with the state store down", err)
}
