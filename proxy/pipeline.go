package proxy

// stage is one step of the request pipeline. A stage returns nil to pass the
// request on, or an error to stop it; it never writes an error response
// itself (Server.fail does). The last stage, forward, writes the response;
// a stage that answers a request itself (a CORS preflight) sets
// transaction.res.answered instead.
type stage interface {
	serve(x *transaction) error
}

// step is a stage in the pipeline. redecide marks the stages whose verdict
// depends on the snapshot and the caller: Server.redecide runs them again
// for an open tunnel (a WebSocket) after a reload or a revocation.
type step struct {
	stage
	redecide bool
}

// pipeline lists the stages in the order of DESIGN.md's request pipeline,
// in two parts. front runs on every request: with tlsNames (the TLS
// listener, Options.ServedHost set) servedName first, so that a
// misdirected request is refused before anything else looks at it; then
// canonicalize and cors (which needs only the canonical path and refuses
// nothing but preflights, so /auth/* can be a CORS path too). With a
// sessions block, a request under AuthPrefix then goes to the /auth/ API
// (Server.serveAuth); every other one goes on through stages, whose
// hand-offs are: request facts (route) → caller (authenticate) → decision
// (authorize) → rateLimit (refuses, hands off nothing) → the outbound plan (upstreamHeaders, methodOverride,
// filterRecords, upgrade, limitBody) → the response (forward).
func pipeline(tlsNames bool) (front, stages []step) {
	front = []step{
		{canonicalize{}, true},
		{cors{}, true},
	}
	if tlsNames {
		front = append([]step{{servedName{}, false}}, front...)
	}
	stages = []step{
		{route{}, true},
		{authenticate{}, true},
		{authorize{}, true},
		{rateLimit{}, false}, // counts requests: not again for an open tunnel
		{upstreamHeaders{}, true},
		{methodOverride{}, false},
		{filterRecords{}, true}, // refuses upgrades on filtered grants
		{upgrade{}, true},       // the Origin check of a cookie session
		{limitBody{}, false},
		{forward{}, false},
	}
	return front, stages
}
