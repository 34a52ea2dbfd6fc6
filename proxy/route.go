package proxy

// route finds the upstream for the canonical path. A path no upstream claims
// is not refused here: authenticate runs first so that unauthenticated
// clients cannot probe which prefixes exist; authorize answers 404.
type route struct{}

func (route) serve(x *exchange) error {
	x.route, x.routed = x.snap().Route(x.path)
	if x.routed {
		x.backend = x.gen.backends[x.route.Upstream.Index()]
	}
	return nil
}

var _ stage = route{}
