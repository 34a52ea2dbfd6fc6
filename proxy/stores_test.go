package proxy

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/store"
	"github.com/gatehouse-dev/gatehouse/store/memstore"
)

// countingBudgets counts the calls that reach it.
type countingBudgets struct {
	store.Budgets
	spends atomic.Int64
}

func (b *countingBudgets) Spend(ctx context.Context, limits ...store.Limit) error {
	b.spends.Add(1)
	return b.Budgets.Spend(ctx, limits...)
}

// Options.Stores reach the session manager (revocations) and the login
// API (failed-login budgets).
func TestOptions_Stores(t *testing.T) {
	up := newUpstream(t, nil)
	snap, err := policy.New(sessionSpec(t, up.URL))
	if err != nil {
		t.Fatal(err)
	}
	revs := memstore.NewRevocations(time.Now)
	budgets := &countingBudgets{Budgets: memstore.NewBudgets(100, time.Now)}
	srv := New(Options{Logger: slog.New(slog.DiscardHandler), Stores: store.Set{Revocations: revs, Budgets: budgets}})
	srv.Load(snap, nil)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); srv.Close() })
	p := &testProxy{Server: ts, srv: srv}

	tok := p.mustLogin(t, testKey, "alice", "alicepw")
	if res, _ := p.call(t, "POST", "/auth/logout", "", tok); res.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	if revs.Len() != 1 {
		t.Errorf("the given Revocations holds %d ids after a logout, want 1", revs.Len())
	}
	if res, _, _ := p.login(t, testKey, "alice", "wrong"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	if budgets.spends.Load() == 0 {
		t.Error("a failed login spent nothing from the given Budgets")
	}
}
