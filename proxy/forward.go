package proxy

import (
	"errors"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/gatehouse-dev/gatehouse/proxy/upstream"
)

// forward sends an authorized request to its upstream through
// httputil.ReverseProxy. Before that it refuses protocol upgrades other than
// a GET "Upgrade: websocket" (400), WebSockets riding a session cookie from
// a foreign Origin (403, see checkUpgrade), and bodies over max_body_bytes
// (413 when Content-Length says so up front; a chunked body is cut at the
// limit), and reads bodies up to body_buffer_bytes whole (body.go). An
// accepted upgrade becomes a tunnel that the Server closes when its
// session or its authorization ends (tunnel.go).
type forward struct{}

func (forward) serve(x *exchange) error {
	r := x.r
	if up := upgradeType(r.Header); up != "" {
		if err := x.checkUpgrade(up); err != nil {
			return err
		}
	}
	hasBody := r.Body != nil && r.Body != http.NoBody
	if limit := x.snap().MaxBodyBytes(); limit > 0 {
		if r.ContentLength > limit {
			return refuse(http.StatusRequestEntityTooLarge, reasonBodyTooLarge, nil)
		}
		if hasBody && !x.bodyRead {
			r.Body = http.MaxBytesReader(x.w, r.Body, limit)
		}
	}
	if hasBody {
		// Small bodies are read and checked whole before the upstream is
		// dialled; others stream (body.go).
		if err := x.prepareBody(r, x.snap().BodyBufferBytes()); err != nil {
			return err
		}
		hasBody = r.Body != http.NoBody
	}
	b := x.backend
	transport := b.transport
	if hasBody && r.ContentLength != 0 {
		transport = b.bodyTransport
	}
	// A ReverseProxy per request, with hooks bound to this exchange: cheaper
	// than threading the exchange through the request context (which copies
	// the *http.Request), and the hooks need no lookup. It lives inside the
	// exchange, so it costs no allocation of its own.
	x.own.rt = transport
	x.rp = httputil.ReverseProxy{
		Rewrite:        x.rewrite,
		Transport:      &x.own,
		BufferPool:     &x.srv.bufs,
		ErrorLog:       b.errorLog,
		ModifyResponse: x.modifyResponse,
		ErrorHandler:   x.errorHandler,
	}
	x.rp.ServeHTTP(x.w, r)
	return nil
}

var _ stage = forward{}

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
// here follows from the exchange the pipeline allowed. Hop-by-hop headers
// (including any named in Connection) and client X-Forwarded-*/Forwarded
// were removed by ReverseProxy before this runs, so the fields set here
// survive "Connection: X-Gatehouse-User" tricks.
func (x *exchange) rewrite(pr *httputil.ProxyRequest) {
	b := x.backend
	out := pr.Out

	// The path is the canonical path with the prefix replaced by the
	// upstream's base path, byte for byte; never cleaned or joined.
	p := b.basePath + x.route.Rest
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
	if x.filter != nil && x.filter.headAsGet {
		out.Method = http.MethodGet
	}

	// gatehouse's own fields do not go into out.Header, which holds what
	// is left of the client's: the transport writes them after it (see
	// ownFieldsTransport). ReverseProxy sized that map for the client's fields, so
	// it never grows here; adding ours made a typical API-key request's map
	// pass the eight entries of a small Go map and turn into a hash table
	// that every later step paid for (docs/benchmarks.md).
	f := x.own.buf[:0]
	f = x.appendForwarded(f, pr.In)
	if x.snap().IdentityHeaders() {
		if x.ident.App != nil {
			f = append(f, [2]string{headerApp, x.ident.App.Name()})
		}
		if x.ident.Role != nil {
			f = append(f, [2]string{headerRole, x.ident.Role.Name()})
		}
		if x.ident.User != "" {
			f = append(f, [2]string{headerUser, x.ident.User})
		}
		if x.ident.Admin {
			f = append(f, [2]string{headerAdmin, "true"})
		}
		if x.sess != nil {
			f = append(f, [2]string{headerProvider, x.sess.Provider})
		}
	}
	f = append(f, x.upHeaders...)
	f = append(f, [2]string{headerRequestID, x.id})
	x.own.fields = f

	// Each of them replaces what the client sent by that name.
	stripClientHeaders(out.Header, f, x.snap().ClientHeaders(), x.peerTrusted)
	// The session cookie is gatehouse's by name: removed always, even
	// when no sessions block (any more) says so.
	stripSessionCredential(out.Header, x.cred)
}

// numOwnFields bounds the fields rewrite sets besides the upstream's header
// templates: X-Forwarded-For, -Host and -Proto, X-Real-IP, five identity
// headers (app, role, user, admin, provider) and X-Request-Id.
const numOwnFields = 4 + 5 + 1

// ownFieldsTransport is the RoundTripper of one exchange. It carries the
// outbound request together with fields, the header fields gatehouse sets
// itself: canonical names, each at most once, and none of them in the
// request's Header in any spelling (stripClientHeaders). (One exception:
// ReverseProxy gives a request without a User-Agent an empty one after
// rewrite, and an empty User-Agent is never sent.) It hands both to rt
// with upstream.RoundTripWithFields, which says why they travel apart.
type ownFieldsTransport struct {
	sent   bool // RoundTrip was asked to send the request upstream
	rt     http.RoundTripper
	fields [][2]string
	buf    [numOwnFields][2]string // fields' storage, when they fit
}

func (t *ownFieldsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		// The client is gone: send nothing (the request counts as
		// abandoned, see abandoned.go).
		return nil, err
	}
	t.sent = true
	return upstream.RoundTripWithFields(t.rt, req, t.fields)
}

// headerValue returns v as a one-element header value stored in
// x.respID: the X-Request-Id of every response costs no allocation. The
// slice's capacity is 1, so an append copies it.
func (x *exchange) headerValue(v string) []string {
	x.respID[0] = v
	return x.respID[:1:1]
}

// appendForwarded appends X-Forwarded-For, -Host and -Proto from the real
// peer, as httputil.ProxyRequest.SetXForwarded sets them, and X-Real-IP,
// the client address (the peer, or from a trusted proxy the right-most
// X-Forwarded-For address that is not a trusted proxy; see clientAddr).
// The client's values (which ReverseProxy removed from the outbound
// request) are kept only when the peer is in trusted_proxies; a client's
// X-Real-IP never is.
func (x *exchange) appendForwarded(f [][2]string, in *http.Request) [][2]string {
	host, proto := in.Host, "http"
	if in.TLS != nil {
		proto = "https"
	}
	realIP := ""
	if ip, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
		realIP = ip // the peer's address as net/http wrote it: no allocation
		if prior := in.Header["X-Forwarded-For"]; x.peerTrusted && len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		f = append(f, [2]string{"X-Forwarded-For", ip})
	}
	if x.peerTrusted {
		if h := in.Header.Get("X-Forwarded-Host"); h != "" {
			host = h
		}
		if p := in.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
			proto = p
		}
		if x.client != x.peer && x.client.IsValid() {
			realIP = x.client.String()
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
func (x *exchange) modifyResponse(res *http.Response) error {
	x.status = res.StatusCode
	if res.StatusCode == http.StatusSwitchingProtocols {
		if err := x.openTunnel(res); err != nil {
			return err
		}
	}
	if x.closeConn && res.StatusCode != http.StatusSwitchingProtocols {
		res.Header["Connection"] = []string{"close"} // net/http closes after writing
	}
	res.Header[headerRequestID] = x.headerValue(x.id)
	if x.cors.rule != nil {
		// Ours replace the upstream's Access-Control-* headers; what the
		// cors stage put on the writer would be duplicated otherwise.
		x.cors.unset(x.w.Header(), true)
		x.cors.apply(res.Header)
	}
	if x.filter != nil {
		return x.filterResponse(res)
	}
	return nil
}

// errorHandler is ReverseProxy's error funnel: dial failures, timeouts and
// bad upgrades end here, never with addresses or Go errors in the body when
// production is on.
func (x *exchange) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if errors.As(err, &e) { // from modifyResponse: already classified
		x.srv.fail(x, e)
		return
	}
	if b := x.upBody; b != nil {
		// The client's body failed while it streamed: the client's fault
		// (or its going away), whatever the transport made of it.
		if n, berr := b.failure(); berr != nil {
			x.srv.fail(x, x.bodyError(berr, n))
			return
		}
	}
	x.srv.fail(x, upstreamError(r.Context(), err))
}
