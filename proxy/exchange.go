package proxy

import (
	"net/http"
	"net/http/httputil"
	"net/netip"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/records"
	"github.com/gatehouse-dev/gatehouse/proxy/session"
)

// exchange is the state of one request as it moves through the stages. It is
// created by Server.ServeHTTP, bound to one generation (snapshot) for the
// whole request, and never shared between requests.
type exchange struct {
	srv   *Server
	w     http.ResponseWriter
	r     *http.Request
	gen   *generation
	start time.Time
	id    string // request id

	badFraming string       // why the request's framing is refused, or "" (framing.go)
	closeConn  bool         // close the client connection after this response
	fc         *framingConn // the HTTP/1 connection's framing follower, or nil
	reqNum     uint64       // the request's number on fc
	bodyRead   bool         // r.Body is in memory with a known length (body.go)
	upBody     *clientBody  // the client's body as it streams upstream, or nil

	peer        netip.Addr // the TCP peer
	peerTrusted bool       // peer is in trusted_proxies
	client      netip.Addr // the client, believing X-Forwarded-For only from trusted proxies
	path        policy.Path
	cors        corsState // CORS outcome; zero off CORS paths
	route       policy.Route
	routed      bool
	ident       policy.Identity
	sess        *session.Session // the verified session, if any
	cred        credential       // where the session token came from
	done        bool             // a stage answered the request itself
	upHeaders   [][2]string      // rendered upstream header templates
	lookupCache map[string]any   // merged lookups, see exchange.lookups
	filter      *filtering       // record filter of the deciding grant, if any
	filterStats records.Stats
	filterErr   error // why filtering a response failed (set by its goroutine)
	decision    policy.Decision
	backend     *backend
	rp          httputil.ReverseProxy // backend.proxy bound to this exchange
	own         ownFieldsTransport    // rp's transport, with gatehouse's header fields
	respID      [1]string             // see exchange.headerValue

	status  int // status sent to the client
	reason  string
	errText string // detail for the log
}

func (x *exchange) snap() *policy.Snapshot { return x.gen.snap }
