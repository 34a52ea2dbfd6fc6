package authapi

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/gatehouse-dev/gatehouse/proxy/authapi/oauth"
)

// Each class of OAuth failure has its status and reason; the provider's
// error stays in Err, which only the log (and non-production answers)
// shows.
func TestOAuthFailure(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		reason string
	}{
		{fmt.Errorf("%w: x", oauth.ErrDenied), http.StatusUnauthorized, "oauth_denied"},
		{fmt.Errorf("%w: x", oauth.ErrInteraction), http.StatusUnauthorized, "oauth_interaction_required"},
		{fmt.Errorf("%w: x", oauth.ErrRefused), http.StatusBadGateway, "oauth_provider_error"},
		{fmt.Errorf("%w: x", oauth.ErrProvider), http.StatusBadGateway, "oauth_failed"},
		{fmt.Errorf("%w: x", oauth.ErrBadState), http.StatusBadRequest, "oauth_bad_state"},
		{fmt.Errorf("%w: x", oauth.ErrBadNext), http.StatusBadRequest, "oauth_bad_next"},
		{errors.New("other"), http.StatusBadGateway, "oauth_failed"},
	} {
		e := oauthFailure(tc.err)
		if e.Status != tc.status || e.Reason != tc.reason || !errors.Is(e, tc.err) {
			t.Errorf("%v: %d %s, want %d %s", tc.err, e.Status, e.Reason, tc.status, tc.reason)
		}
	}
}
