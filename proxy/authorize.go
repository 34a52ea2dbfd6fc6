package proxy

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// authorize asks the policy. Deny by default: no route is 404, and anything
// Decide does not allow is refused with its status and reason.
type authorize struct{}

func (authorize) serve(x *transaction) error {
	if !x.facts.routed {
		return refuse(http.StatusNotFound, reasonNoRoute, nil)
	}
	x.decision = x.snap().Decide(policy.Request{Method: x.r.Method, Route: x.facts.route}, x.who.ident)
	if !x.decision.Allow {
		return refuse(x.decision.Status, string(x.decision.Reason), nil)
	}
	return nil
}

// upstreamHeaders renders the upstream's header templates for the caller
// (see transaction.resolveUpstreamHeaders); a template without a value for
// this caller refuses the request (403 header_unresolved).
type upstreamHeaders struct{}

func (upstreamHeaders) serve(x *transaction) error { return x.resolveUpstreamHeaders() }

var (
	_ stage = authorize{}
	_ stage = upstreamHeaders{}
)
