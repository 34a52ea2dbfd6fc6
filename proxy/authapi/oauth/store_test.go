package oauth_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/proxy/authapi/oauth"
	"github.com/gatehouse-dev/gatehouse/store"
)

// failingStates is a used-state store whose backend is down.
type failingStates struct{ calls atomic.Int32 }

var errDown = errors.New("backend down")

func (f *failingStates) Use(context.Context, string, string, time.Duration) (bool, error) {
	f.calls.Add(1)
	return false, errDown
}

var _ store.OneTime = (*failingStates)(nil)

// A failing store of used states refuses the callback (fail closed): the
// rightful browser's callback, with its cookie, ends in ErrUnavailable,
// not in a login.
func TestCompleteFailsClosedOnStoreError(t *testing.T) {
	states := &failingStates{}
	f := oauth.NewFlows(oauth.Options{Used: states})
	begun, err := begin(t, f, githubBlock(), "/", true)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = f.Complete(context.Background(), httptest.NewRecorder(), callback(t, begun, url.Values{"error": {"access_denied"}}), githubBlock(), testClient, true)
	if !errors.Is(err, oauth.ErrUnavailable) || !errors.Is(err, errDown) || errors.Is(err, oauth.ErrDenied) {
		t.Fatalf("Complete with a failing store: %v, want ErrUnavailable", err)
	}
	if n := states.calls.Load(); n != 1 {
		t.Errorf("store asked %d times, want 1", n)
	}
	if n := f.Used(); n != 0 {
		t.Errorf("Used = %d for a store that does not say", n)
	}
}

// Of concurrent callbacks with one state, only one gets past the state
// check (single use, under -race).
func TestCompleteConcurrentReplays(t *testing.T) {
	f := oauth.NewFlows(oauth.Options{})
	begun, err := begin(t, f, githubBlock(), "/", true)
	if err != nil {
		t.Fatal(err)
	}
	var passed atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		r := callback(t, begun, url.Values{"error": {"access_denied"}})
		wg.Go(func() {
			_, _, err := f.Complete(context.Background(), httptest.NewRecorder(), r, githubBlock(), testClient, true)
			if errors.Is(err, oauth.ErrDenied) { // past the state checks
				passed.Add(1)
			} else if !errors.Is(err, oauth.ErrBadState) {
				t.Errorf("callback: %v", err)
			}
		})
	}
	wg.Wait()
	if n := passed.Load(); n != 1 {
		t.Errorf("%d callbacks passed the state check, want 1", n)
	}
}
