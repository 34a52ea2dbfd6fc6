package proxy

import (
	"errors"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/proxy/authn"
)

type authenticator = authn.Authenticator

// authenticate runs the authenticators in order until one recognizes a
// credential. An app API key is required on every non-public route: no
// credential at all is a 401 (missing_api_key).
type authenticate struct {
	chain []authenticator
}

func (a authenticate) serve(x *exchange) error {
	if x.routed && x.route.Upstream.Public() {
		return nil
	}
	for _, au := range a.chain {
		err := au.Authenticate(x.r, x.snap(), &x.ident)
		if err == nil {
			return nil
		}
		if errors.Is(err, authn.ErrNoCredential) {
			continue
		}
		var f *authn.Failure
		if errors.As(err, &f) {
			return refuse(http.StatusUnauthorized, f.Reason, nil)
		}
		return refuse(http.StatusInternalServerError, reasonInternal, err)
	}
	return refuse(http.StatusUnauthorized, authn.ReasonMissingAPIKey, nil)
}

var _ stage = authenticate{}
