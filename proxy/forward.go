package proxy

import (
	"errors"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/proxy/upstream"
)

// upgrade refuses the protocol upgrades forward does not carry: any but a
// GET "Upgrade: websocket" (400), and WebSockets riding a session cookie
// from a foreign Origin (403, see checkUpgrade). An accepted upgrade
// becomes a tunnel that the Server closes when its session or its
// authorization ends (tunnel.go).
type upgrade struct{}

func (upgrade) serve(x *transaction) error {
	if up := upgradeType(x.r.Header); up != "" {
		return x.checkUpgrade(up)
	}
	return nil
}

// limitBody applies the request body limits: a body over max_body_bytes is
// refused (413 when Content-Length says so up front; a chunked body is cut
// at the limit), and a body of at most body_buffer_bytes is read whole
// before the upstream is dialled; larger ones stream (body.go).
type limitBody struct{}

func (limitBody) serve(x *transaction) error {
	r := x.r
	hasBody := r.Body != nil && r.Body != http.NoBody
	if limit := x.snap().MaxBodyBytes(); limit > 0 {
		if r.ContentLength > limit {
			return refuse(http.StatusRequestEntityTooLarge, reasonBodyTooLarge, nil)
		}
		if hasBody && !x.body.inMemory {
			r.Body = http.MaxBytesReader(x.w, r.Body, limit)
		}
	}
	if hasBody {
		return x.prepareBody(r, x.snap().BodyBufferBytes())
	}
	return nil
}

// forward sends the request, as the stages before it left it, to its
// upstream through httputil.ReverseProxy, and hands the response to the
// client (the record filter's, if the grant has one).
type forward struct{}

func (forward) serve(x *transaction) error {
	r := x.r
	b := x.gen.backends[x.facts.route.Upstream.Index()]
	x.fwd.backend = b
	transport := b.transport
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		transport = b.bodyTransport
	}
	// A ReverseProxy per request, with hooks bound to this transaction: cheaper
	// than threading the transaction through the request context (which copies
	// the *http.Request), and the hooks need no lookup. It lives inside the
	// transaction, so it costs no allocation of its own.
	x.fwd.tr.rt = transport
	x.fwd.rp = httputil.ReverseProxy{
		Rewrite:        x.rewrite,
		Transport:      &x.fwd.tr,
		BufferPool:     &x.srv.bufs,
		ErrorLog:       b.errorLog,
		ModifyResponse: x.modifyResponse,
		ErrorHandler:   x.errorHandler,
	}
	var w http.ResponseWriter = x.w
	if x.out.filter != nil {
		w = heldStatus{x}
	}
	x.fwd.rp.ServeHTTP(w, r)
	return nil
}

// heldStatus is the ResponseWriter of a request on a filtered route.
// ReverseProxy writes the status through it before it reads the body, but
// the status of a body that the filter rewrites is decided as the filter
// runs (filterBody): such a status is held back here. Informational
// statuses and those of bodies left as they are pass.
type heldStatus struct{ x *transaction }

func (h heldStatus) Header() http.Header         { return h.x.w.Header() }
func (h heldStatus) Write(p []byte) (int, error) { return h.x.w.Write(p) }

func (h heldStatus) WriteHeader(code int) {
	if code < 200 || !h.x.fwd.filtering {
		h.x.w.WriteHeader(code)
	}
}

var (
	_ stage = upgrade{}
	_ stage = limitBody{}
	_ stage = forward{}
)

// backend is the forwarding half of one upstream in one generation.
type backend struct {
	target   *url.URL
	basePath string // escaped path of the upstream URL, without trailing "/"
	// transport carries requests without a body, bodyTransport those with
	// one (see upstream.Key).
	transport, bodyTransport http.RoundTripper
	errorLog                 *log.Logger    // ReverseProxy's own messages
	tkeys                    []upstream.Key // pooled transports used (none with Options.Transport)
}

// rewrite builds the outbound request. It makes no decisions: everything
// here follows from the transaction the pipeline allowed. Hop-by-hop headers
// (including any named in Connection) and client X-Forwarded-*/Forwarded
// were removed by ReverseProxy before this runs, so the fields set here
// survive "Connection: X-Gatehouse-User" tricks.
func (x *transaction) rewrite(pr *httputil.ProxyRequest) {
	b := x.fwd.backend
	out := pr.Out

	// The path is the canonical path with the prefix replaced by the
	// upstream's base path, byte for byte; never cleaned or joined.
	p := b.basePath + x.facts.route.Rest
	if p == "" {
		p = "/"
	}
	out.URL.Scheme = b.target.Scheme
	out.URL.Host = b.target.Host
	out.URL.Opaque = ""
	out.URL.User = nil
	out.URL.Fragment, out.URL.RawFragment = "", ""
	// RawPath is always set: Go's own escaping would re-encode bytes such as
	// "!" and "(" that the canonical form keeps, and the upstream must get
	// the authorized bytes exactly.
	dec := p
	if strings.IndexByte(p, '%') >= 0 {
		var err error
		if dec, err = url.PathUnescape(p); err != nil {
			dec = p // cannot happen for a canonical path
		}
	}
	out.URL.Path, out.URL.RawPath = dec, p
	out.Host = ""
	if x.out.filter != nil && x.out.filter.headAsGet {
		out.Method = http.MethodGet
	}

	// gatehouse's own fields do not go into out.Header, which holds what
	// is left of the client's: the transport writes them after it (see
	// fieldsTransport). ReverseProxy sized that map for the client's fields, so
	// it never grows here; adding ours made a typical API-key request's map
	// pass the eight entries of a small Go map and turn into a hash table
	// that every later step paid for (docs/benchmarks.md).
	f := x.fwd.tr.buf[:0]
	f = x.appendForwarded(f, pr.In)
	if x.snap().IdentityHeaders() {
		if x.who.ident.App != nil {
			f = append(f, [2]string{headerApp, x.who.ident.App.Name()})
		}
		if x.who.ident.Role != nil {
			f = append(f, [2]string{headerRole, x.who.ident.Role.Name()})
		}
		if x.who.ident.User != "" {
			f = append(f, [2]string{headerUser, x.who.ident.User})
		}
		if x.who.ident.Admin {
			f = append(f, [2]string{headerAdmin, "true"})
		}
		if x.who.sess != nil {
			f = append(f, [2]string{headerProvider, x.who.sess.Provider})
		}
	}
	f = append(f, x.out.headers...)
	f = append(f, [2]string{headerRequestID, x.id})
	x.fwd.tr.fields = f

	// Each of them replaces what the client sent by that name.
	stripClientHeaders(out.Header, f, x.snap().ClientHeaders(), x.facts.peerTrusted)
	// The session cookie is gatehouse's by name: removed always, even
	// when no sessions block (any more) says so.
	stripSessionCredential(out.Header, x.who.cred)
}

// numOwnFields bounds the fields rewrite sets besides the upstream's header
// templates: X-Forwarded-For, -Host and -Proto, X-Real-IP, five identity
// headers (app, role, user, admin, provider) and X-Request-Id.
const numOwnFields = 4 + 5 + 1

// fieldsTransport is the RoundTripper of one transaction. It carries the
// outbound request together with fields, the header fields gatehouse sets
// itself: canonical names, each at most once, and none of them in the
// request's Header in any spelling (stripClientHeaders). (One exception:
// ReverseProxy gives a request without a User-Agent an empty one after
// rewrite, and an empty User-Agent is never sent.) It hands both to rt
// with upstream.RoundTripWithFields, which says why they travel apart.
type fieldsTransport struct {
	sent    bool          // RoundTrip was asked to send the request upstream
	latency time.Duration // from sending to the response header or failure (metrics)
	rt      http.RoundTripper
	fields  [][2]string
	buf     [numOwnFields][2]string // fields' storage, when they fit
}

func (t *fieldsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		// The client is gone: send nothing (the request counts as
		// abandoned, see abandoned.go).
		return nil, err
	}
	t.sent = true
	start := time.Now()
	res, err := upstream.RoundTripWithFields(t.rt, req, t.fields)
	t.latency = time.Since(start)
	return res, err
}

// headerValue returns v as a one-element header value stored in
// x.fwd.respID: the X-Request-Id of every response costs no allocation. The
// slice's capacity is 1, so an append copies it.
func (x *transaction) headerValue(v string) []string {
	x.fwd.respID[0] = v
	return x.fwd.respID[:1:1]
}

// appendForwarded appends X-Forwarded-For, -Host and -Proto from the real
// peer, as httputil.ProxyRequest.SetXForwarded sets them, and X-Real-IP,
// the client address (the peer, or from a trusted proxy the right-most
// X-Forwarded-For address that is not a trusted proxy; see clientAddr).
// The client's values (which ReverseProxy removed from the outbound
// request) are kept only when the peer is in trusted_proxies; a client's
// X-Real-IP never is.
func (x *transaction) appendForwarded(f [][2]string, in *http.Request) [][2]string {
	host, proto := in.Host, "http"
	if in.TLS != nil {
		proto = "https"
	}
	realIP := ""
	if ip, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
		realIP = ip // the peer's address as net/http wrote it: no allocation
		if prior := in.Header["X-Forwarded-For"]; x.facts.peerTrusted && len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		f = append(f, [2]string{"X-Forwarded-For", ip})
	}
	if x.facts.peerTrusted {
		if h := in.Header.Get("X-Forwarded-Host"); h != "" {
			host = h
		}
		if p := in.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
			proto = p
		}
		if x.facts.client != x.facts.peer && x.facts.client.IsValid() {
			realIP = x.facts.client.String()
		}
	}
	f = append(f, [2]string{"X-Forwarded-Host", host}, [2]string{"X-Forwarded-Proto", proto})
	if realIP != "" {
		f = append(f, [2]string{headerRealIP, realIP})
	}
	return f
}

// modifyResponse records the upstream status, tags the response and sets
// its CORS headers. A 101 opens a tunnel (openTunnel), which may still be
// refused.
func (x *transaction) modifyResponse(res *http.Response) error {
	x.res.status = res.StatusCode
	if res.StatusCode == http.StatusSwitchingProtocols {
		if err := x.openTunnel(res); err != nil {
			return err
		}
	}
	if x.conn.closeConn && res.StatusCode != http.StatusSwitchingProtocols {
		res.Header["Connection"] = []string{"close"} // net/http closes after writing
	}
	res.Header[headerRequestID] = x.headerValue(x.id)
	if x.facts.cors.rule != nil {
		// Ours replace the upstream's Access-Control-* headers; what the
		// cors stage put on the writer would be duplicated otherwise.
		x.facts.cors.unset(x.w.Header(), true)
		x.facts.cors.apply(res.Header)
	}
	if x.out.filter != nil {
		return x.filterResponse(res)
	}
	return nil
}

// errorHandler is ReverseProxy's error funnel: dial failures, timeouts and
// bad upgrades end here, never with addresses or Go errors in the body when
// production is on.
func (x *transaction) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if errors.As(err, &e) { // from modifyResponse: already classified
		x.srv.fail(x, e)
		return
	}
	if b := x.body.stream; b != nil {
		// The client's body failed while it streamed: the client's fault
		// (or its going away), whatever the transport made of it.
		if n, berr := b.failure(); berr != nil {
			x.srv.fail(x, x.bodyError(berr, n))
			return
		}
	}
	x.srv.fail(x, upstreamError(r.Context(), err))
}
