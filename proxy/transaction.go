package proxy

import (
	"net/http"
	"net/http/httputil"
	"net/netip"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy/session"
)

// transaction is one HTTP transaction, a request and its answer, as it
// moves through the stages (HAProxy's and Varnish's word; "exchange" is
// OAuth's code exchange here). It is created by Server.ServeHTTP, bound to
// one generation (snapshot) for the whole request, and never shared
// between requests. Its state is grouped by the stage that writes it, in
// pipeline order: each group is one stage's hand-off to the later ones.
type transaction struct {
	srv   *Server
	w     http.ResponseWriter
	r     *http.Request
	gen   *generation
	start time.Time
	id    string // request id

	conn     connFacts       // newTransaction
	facts    facts           // the front stages and route
	who      caller          // authenticate; on /auth/, the login API in its place (serveAuth)
	decision policy.Decision // authorize; on /auth/, only Reason, from the login API
	rate     rateState       // rateLimit's scratch space
	out      outbound        // the stages between authorize and forward
	body     requestBody     // the client's body, for the stages that read it
	fwd      forwarding      // forward
	res      outcome         // the answer: Server.fail, forward's hooks, a stage that answers
}

// connFacts is what the HTTP/1 connection's framing follower says about
// this request (nil fc: HTTP/2, or no follower).
type connFacts struct {
	fc         *framingConn
	reqNum     uint64 // the request's number on fc
	badFraming string // why the request's framing is refused, or ""
	closeConn  bool   // close the client connection after this response
}

// facts are what the front stages and route learn about the request before
// anyone asks who sent it. Each field has one writer, named beside it.
type facts struct {
	peer        netip.Addr   // newTransaction: the TCP peer
	peerTrusted bool         // identifyClient: peer is in trusted_proxies
	client      netip.Addr   // identifyClient: X-Forwarded-For believed only from trusted proxies
	path        policy.Path  // canonicalize
	cors        corsState    // cors; zero off CORS paths
	route       policy.Route // route
	routed      bool         // route: an upstream claims the path
}

// caller is authenticate's hand-off: who sent the request.
type caller struct {
	ident policy.Identity
	sess  *session.Session // the verified session, if any
	cred  credential       // where the session token came from
	// lookups are the caller's merged lookups, computed on first use
	// (transaction.lookups) by whichever later stage needs them.
	lookups map[string]any
}

// outbound is the plan for the upstream request that the stages after
// authorize build and forward carries out.
type outbound struct {
	headers [][2]string   // upstreamHeaders: the rendered header templates
	filter  *recordFilter // filterRecords: the deciding grant's record filter, or nil
}

// requestBody is the client's body as the stages see it. Stages that must
// read it whole (methodOverride, filterRecords, limitBody) go through
// readWholeBody and setBody; limitBody wraps what streams.
type requestBody struct {
	inMemory bool        // r.Body is in memory with a known length (setBody)
	stream   *clientBody // the body as it streams upstream, or nil
}

// forwarding is forward's machinery for one request.
type forwarding struct {
	backend *backend
	rp      httputil.ReverseProxy // backend's proxy bound to this transaction
	tr      fieldsTransport       // rp's transport, with gatehouse's header fields
	respID  [1]string             // see transaction.headerValue
	// filtering: the response's body is a filterBody, which writes the
	// status (see heldStatus).
	filtering bool
}

// outcome is the answer the client got, for the access record.
type outcome struct {
	answered bool   // a stage answered the request itself (a CORS preflight)
	status   int    // status sent to the client
	reason   string // why the request was refused, or ""
	errText  string // detail for the log
}

func (x *transaction) snap() *policy.Snapshot { return x.gen.snap }
