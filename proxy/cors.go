package proxy

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// Reasons of the cors stage.
const (
	reasonCORSPreflight        = "cors_preflight"
	reasonCORSPreflightRefused = "cors_preflight_refused"
)

// The CORS response headers, in canonical form.
const (
	hdrACAllowOrigin      = "Access-Control-Allow-Origin"
	hdrACAllowCredentials = "Access-Control-Allow-Credentials"
	hdrACAllowMethods     = "Access-Control-Allow-Methods"
	hdrACAllowHeaders     = "Access-Control-Allow-Headers"
	hdrACExposeHeaders    = "Access-Control-Expose-Headers"
	hdrACMaxAge           = "Access-Control-Max-Age"
	hdrACRequestMethod    = "Access-Control-Request-Method"
	hdrVary               = "Vary"
)

// Header values shared by every response; never appended to (full slices).
var (
	varyOrigin    = []string{"Origin"}
	varyPreflight = []string{"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}
	valueTrue     = []string{"true"}
)

// cors applies the cors block whose glob best matches the public request
// path (policy.Snapshot.CORS). It runs right after canonicalize, before the
// auth endpoints and routing, so that /auth/* can be a CORS path too; CORS
// does not depend on the route.
//
// On a CORS path:
//   - A preflight (OPTIONS with Origin and Access-Control-Request-Method)
//     is answered here and never reaches the upstream or needs credentials:
//     204 with the CORS headers when the origin is allowed and the requested
//     method is one of the rule's methods, else 403 without any
//     Access-Control-* header (the browser then blocks the request).
//   - Every other request goes on through authentication and authorization
//     as usual; an Origin never authenticates anything. Its response,
//     whoever writes it (upstream, auth endpoint or error writer), gets
//     "Vary: Origin", loses any Access-Control-* header the upstream set,
//     and gets Access-Control-Allow-Origin (with -Credentials and
//     -Expose-Headers as configured) only when the Origin is allowed and
//     the method is one of the rule's methods.
//
// Off CORS paths nothing is added or removed: upstream Access-Control-*
// headers pass through untouched, and a preflight is an ordinary OPTIONS
// request.
type cors struct{}

func (cors) serve(x *transaction) error {
	rule := x.snap().CORS(x.facts.path)
	if rule == nil {
		return nil
	}
	c := &x.facts.cors
	c.rule = rule
	h := x.r.Header
	origin := ""
	if o := h["Origin"]; len(o) == 1 {
		origin = o[0]
	}
	if acrm, preflight := h[hdrACRequestMethod]; preflight && x.r.Method == http.MethodOptions && origin != "" {
		c.preflight = true
		allow, ok := rule.AllowOrigin(origin)
		switch {
		case !ok:
			return refuse(http.StatusForbidden, reasonCORSPreflightRefused, errors.New("origin not allowed"))
		case len(acrm) != 1 || !rule.AllowsMethod(strings.TrimSpace(acrm[0])):
			return refuse(http.StatusForbidden, reasonCORSPreflightRefused, errors.New("method not allowed"))
		}
		c.allow = allow
		x.preflight()
		return nil
	}
	if origin != "" && rule.AllowsMethod(x.r.Method) {
		c.allow, _ = rule.AllowOrigin(origin)
	}
	c.apply(x.w.Header())
	return nil
}

// preflight answers an allowed preflight with 204.
func (x *transaction) preflight() {
	r, h := x.facts.cors.rule, x.w.Header()
	x.facts.cors.apply(h)
	h[hdrACAllowMethods] = []string{r.AllowMethodsHeader()}
	if v := r.AllowHeadersHeader(); v != "" {
		h[hdrACAllowHeaders] = []string{v}
	}
	if v := r.MaxAgeHeader(); v != "" {
		h[hdrACMaxAge] = []string{v}
	}
	h[headerRequestID] = []string{x.id}
	x.res.answered = true
	x.res.status = http.StatusNoContent
	x.decision.Reason = reasonCORSPreflight
	x.w.WriteHeader(http.StatusNoContent)
}

// corsState is the CORS outcome of one request; the zero value (not a CORS
// path) changes nothing.
type corsState struct {
	rule      *policy.CORSRule // nil = not a CORS path
	allow     string           // Access-Control-Allow-Origin; "" = none
	preflight bool
}

// apply makes h carry exactly this request's CORS headers: it removes every
// Access-Control-* header, adds Origin (and for preflights the request
// headers) to Vary, and sets Allow-Origin, -Credentials and -Expose-Headers
// for an allowed origin. It is idempotent.
func (c *corsState) apply(h http.Header) {
	if c == nil || c.rule == nil {
		return
	}
	c.unset(h, false)
	switch v := h[hdrVary]; {
	case c.preflight:
		h[hdrVary] = append(v, varyPreflight...)
	case len(v) == 0:
		h[hdrVary] = varyOrigin // shared: full, so an append copies
	case !varies(v):
		h[hdrVary] = append(v, varyOrigin...)
	}
	if c.allow == "" {
		return
	}
	h[hdrACAllowOrigin] = []string{c.allow}
	if c.rule.Credentials() {
		h[hdrACAllowCredentials] = valueTrue
	}
	if v := c.rule.ExposeHeadersHeader(); v != "" && !c.preflight {
		h[hdrACExposeHeaders] = []string{v}
	}
}

// unset removes every Access-Control-* header from h, and Vary too when
// vary is set (to drop what apply put on the response writer before the
// upstream's own Vary arrives).
func (c *corsState) unset(h http.Header, vary bool) {
	for k := range h {
		if len(k) >= len("Access-Control-") && strings.EqualFold(k[:len("Access-Control-")], "Access-Control-") {
			delete(h, k)
		}
	}
	if vary {
		delete(h, hdrVary)
	}
}

// varies reports whether Vary values already name Origin (or "*").
func varies(values []string) bool {
	for _, v := range values {
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.TrimSpace(tok)
			if tok == "*" || strings.EqualFold(tok, "Origin") {
				return true
			}
		}
	}
	return false
}

var _ stage = cors{}
