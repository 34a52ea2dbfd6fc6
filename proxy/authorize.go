package proxy

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// authorize asks the policy. Deny by default: no route is 404, and anything
// Decide does not allow is refused with its status and reason.
type authorize struct{}

func (authorize) serve(x *exchange) error {
	if !x.routed {
		return refuse(http.StatusNotFound, reasonNoRoute, nil)
	}
	x.decision = x.snap().Decide(policy.Request{Method: x.r.Method, Route: x.route}, x.ident)
	if !x.decision.Allow {
		return refuse(x.decision.Status, string(x.decision.Reason), nil)
	}
	return x.resolveUpstreamHeaders()
}

var _ stage = authorize{}
