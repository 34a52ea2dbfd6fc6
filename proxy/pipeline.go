package proxy

// stage is one step of the request pipeline. A stage returns nil to pass the
// request on, or an error to stop it; it never writes an error response
// itself (Server.fail does). The last stage, forward, writes the response;
// a stage that answers a request itself (the auth endpoints) sets
// exchange.done instead.
type stage interface {
	serve(x *exchange) error
}

// pipeline lists the stages in the order of DESIGN.md's request pipeline.
// cors runs before the auth endpoints and route (it needs only the
// canonical path and refuses nothing but preflights), so that /auth/* can
// be a CORS path too. With tlsNames (the TLS listener, Options.ServedHost
// set), servedName runs first: a misdirected request is refused before
// anything else looks at it.
func pipeline(tlsNames bool) []stage {
	stages := []stage{
		canonicalize{},
		cors{},
		endpoints{},
		route{},
		authenticate{},
		authorize{},
		methodOverride{},
		filterRequest{},
		forward{},
	}
	if tlsNames {
		stages = append([]stage{servedName{}}, stages...)
	}
	return stages
}
