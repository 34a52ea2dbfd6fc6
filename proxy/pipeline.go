package proxy

// stage is one step of the request pipeline. A stage returns nil to pass the
// request on, or an error to stop it; it never writes an error response
// itself (Server.fail does). The last stage, forward, writes the response;
// a stage that answers a request itself (a CORS preflight) sets
// exchange.done instead.
type stage interface {
	serve(x *exchange) error
}

// pipeline lists the stages in the order of DESIGN.md's request pipeline,
// in two parts: front runs on every request; then, with a sessions block,
// a request under AuthPrefix goes to the /auth/ API (Server.serveAuth)
// and every other one on through stages. cors is in front (it needs only
// the canonical path and refuses nothing but preflights), so that /auth/*
// can be a CORS path too. With tlsNames (the TLS listener,
// Options.ServedHost set), servedName runs first: a misdirected request is
// refused before anything else looks at it. Server.redecide decides open
// tunnels again after a reload with the stages whose verdict depends on
// the snapshot, listed there by hand (not servedName, methodOverride or
// forward): a stage added here that does must be added there too.
func pipeline(tlsNames bool) (front, stages []stage) {
	front = []stage{
		canonicalize{},
		cors{},
	}
	if tlsNames {
		front = append([]stage{servedName{}}, front...)
	}
	stages = []stage{
		route{},
		authenticate{},
		authorize{},
		methodOverride{},
		filterRequest{},
		forward{},
	}
	return front, stages
}
