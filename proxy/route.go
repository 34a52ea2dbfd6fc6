package proxy

// route finds the upstream for the canonical path. A path no upstream claims
// is not refused here: authenticate runs first so that unauthenticated
// clients cannot probe which prefixes exist; authorize answers 404.
type route struct{}

func (route) serve(x *transaction) error {
	x.facts.route, x.facts.routed = x.snap().Route(x.facts.path)
	return nil
}

var _ stage = route{}
