package proxy

import (
	"errors"
	"log"
	"maps"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
)

// forward sends an authorized request to its upstream through
// httputil.ReverseProxy. Before that it refuses protocol upgrades other than
// a GET "Upgrade: websocket" (400) and bodies over max_body_bytes (413 when
// Content-Length says so up front; a chunked body is cut at the limit).
type forward struct{}

func (forward) serve(x *exchange) error {
	r := x.r
	if up := upgradeType(r.Header); up != "" {
		if !strings.EqualFold(up, "websocket") || r.Method != http.MethodGet {
			return refuse(http.StatusBadRequest, reasonBadUpgrade, nil)
		}
	}
	hasBody := r.Body != nil && r.Body != http.NoBody
	if limit := x.snap().MaxBodyBytes(); limit > 0 {
		if r.ContentLength > limit {
			return refuse(http.StatusRequestEntityTooLarge, reasonBodyTooLarge, nil)
		}
		if hasBody {
			r.Body = http.MaxBytesReader(x.w, r.Body, limit)
		}
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
	x.rp = httputil.ReverseProxy{
		Rewrite:        x.rewrite,
		Transport:      transport,
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
	// one (see transport.go).
	transport, bodyTransport http.RoundTripper
	errorLog                 *log.Logger    // ReverseProxy's own messages
	tkeys                    []transportKey // pooled transports used (none with Options.Transport)
}

// rewrite builds the outbound request. It makes no decisions: everything
// here follows from the exchange the pipeline allowed. Hop-by-hop headers
// (including any named in Connection) and client X-Forwarded-*/Forwarded
// were removed by ReverseProxy before this runs, so headers set here survive
// "Connection: X-Gatehouse-User" tricks.
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

	stripClientHeaders(out.Header)
	// The session cookie is gatehouse's by name: removed always, even
	// when no sessions block (any more) says so.
	stripSessionCredential(out.Header, x.cred)
	var ident [maxIdentityHeaders][2]string
	n := 0
	if x.snap().IdentityHeaders() {
		if x.ident.App != nil {
			ident[n] = [2]string{headerApp, x.ident.App.Name()}
			n++
		}
		if x.ident.Role != nil {
			ident[n] = [2]string{headerRole, x.ident.Role.Name()}
			n++
		}
		if x.ident.User != "" {
			ident[n] = [2]string{headerUser, x.ident.User}
			n++
		}
		if x.ident.Admin {
			ident[n] = [2]string{headerAdmin, "true"}
			n++
		}
		if x.sess != nil {
			ident[n] = [2]string{headerProvider, x.sess.Provider}
			n++
		}
	}
	// ReverseProxy's copy of the client's header is a map sized for the
	// client's fields. When what is added here takes it past the eight
	// entries of a small Go map (an API client's few headers plus the
	// identity headers often do), adding them would grow it into a hash
	// table, rehashing every entry; copy it once at its final size instead.
	if want := len(out.Header) + numForwarded + n + len(x.upHeaders) + 1; want > smallMapEntries {
		h := make(http.Header, want)
		maps.Copy(h, out.Header)
		out.Header = h
	}
	x.setForwarded(pr)
	for i, kv := range ident[:n] {
		out.Header[kv[0]] = x.headerValue(valIdentity+i, kv[1])
	}
	setUpstreamHeaders(out.Header, x.upHeaders)
	out.Header[headerRequestID] = x.headerValue(valRequestID, x.id)
}

// smallMapEntries is how many entries a Go map holds before it turns from
// one group of slots into a hash table.
const smallMapEntries = 8

// numForwarded counts the headers setForwarded sets: X-Forwarded-For,
// -Host and -Proto.
const numForwarded = 3

// maxIdentityHeaders counts the identity headers: app, role, user, admin,
// provider.
const maxIdentityHeaders = 5

// Indexes into exchange.hdrVals.
const (
	valRequestID         = iota // X-Request-Id upstream
	valResponseRequestID        // X-Request-Id to the client
	valIdentity                 // the identity headers, in rewrite's order
	numHeaderValues      = valIdentity + maxIdentityHeaders
)

// headerValue returns v as a one-element header value stored in
// x.hdrVals[i]: the headers gatehouse sets on every request cost no
// allocation each. The slice's capacity is 1, so an append copies it.
func (x *exchange) headerValue(i int, v string) []string {
	x.hdrVals[i] = v
	return x.hdrVals[i : i+1 : i+1]
}

// setForwarded sets X-Forwarded-For/-Host/-Proto from the real peer. Earlier
// values are kept only when the peer is in trusted_proxies.
func (x *exchange) setForwarded(pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	if x.peerTrusted {
		if prior := in.Header["X-Forwarded-For"]; len(prior) > 0 {
			out.Header["X-Forwarded-For"] = prior
		}
	}
	pr.SetXForwarded()
	if x.peerTrusted {
		if h := in.Header.Get("X-Forwarded-Host"); h != "" {
			out.Header.Set("X-Forwarded-Host", h)
		}
		if p := in.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
			out.Header.Set("X-Forwarded-Proto", p)
		}
	}
}

// modifyResponse records the upstream status, tags the response and sets
// its CORS headers.
func (x *exchange) modifyResponse(res *http.Response) error {
	x.status = res.StatusCode
	if x.closeConn && res.StatusCode != http.StatusSwitchingProtocols {
		res.Header["Connection"] = []string{"close"} // net/http closes after writing
	}
	res.Header[headerRequestID] = x.headerValue(valResponseRequestID, x.id)
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
	x.srv.fail(x, upstreamError(r.Context(), err))
}
