package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"

	"github.com/gatehouse-dev/gatehouse/proxy/httperr"
	"github.com/gatehouse-dev/gatehouse/proxy/upstream"
)

// Error is a refusal or failure (httperr.Error, shared with the /auth/ API).
type Error = httperr.Error

func refuse(status int, reason string, err error) *Error {
	return httperr.Refuse(status, reason, err)
}

// Stable reasons set by the proxy itself (policy reasons come from policy.Reason).
const (
	reasonBadPath          = "bad_path"
	reasonPathTooLong      = "path_too_long"
	reasonConnect          = "connect_refused"
	reasonAmbiguousFraming = "ambiguous_framing"
	reasonBadHost          = "bad_host"
	reasonTrace            = "trace_refused"
	reasonAbsoluteForm     = "absolute_form_refused"
	reasonAsteriskForm     = "asterisk_form_refused"
	reasonNoRoute          = "no_route"
	reasonBadUpgrade       = "upgrade_refused"
	reasonBodyTooLarge     = httperr.ReasonBodyTooLarge
	reasonUpstreamTimeout  = "upstream_timeout"
	reasonUpstreamDown     = "upstream_unavailable"
	reasonClientClosed     = "client_closed"
	reasonNotReady         = "not_ready"
	reasonInternal         = httperr.ReasonInternal
	statusClientClosed     = 499 // nginx's code for a client that went away
	genericClientClosedMsg = "client closed request"
)

// reasonUpstreamInformational: more than upstream.MaxInformational
// informational (1xx) responses came before the final one (502).
const reasonUpstreamInformational = "upstream_too_many_informational"

// upstreamError classifies a transport error: 504 on timeout, 499 when the
// client went away, 413 when the body limit was hit, else 502 (with its own
// reason for too many 1xx responses).
func upstreamError(ctx context.Context, err error) *Error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return refuse(http.StatusRequestEntityTooLarge, reasonBodyTooLarge, err)
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return refuse(statusClientClosed, reasonClientClosed, err)
	case errors.Is(err, upstream.ErrTooManyInformational):
		return refuse(http.StatusBadGateway, reasonUpstreamInformational, err)
	case isTimeout(err): // also the watchdog's, context.DeadlineExceeded
		return refuse(http.StatusGatewayTimeout, reasonUpstreamTimeout, err)
	default:
		return refuse(http.StatusBadGateway, reasonUpstreamDown, err)
	}
}

// isTimeout reports whether err is, or wraps, a net.Error that timed out.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// writeError is the one place that turns an error into a response. In
// production the body is a generic message for the status and the request
// id; otherwise the reason and the error text are added to help operators.
// The body is JSON in both modes: strings go through appendJSONString (an
// error text may hold any byte an upstream or a client sent).
// On a CORS path, cors adds the request's CORS headers, so that an allowed
// origin can read the error (a nil cors adds none).
func writeError(w http.ResponseWriter, production bool, requestID string, e *Error, cors *corsState) {
	h := w.Header()
	// Nothing the upstream may have set survives into an error response.
	for k := range h {
		delete(h, k)
	}
	cors.apply(h)
	h["Content-Type"] = []string{"application/json"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	h["Cache-Control"] = []string{"no-store"}
	h["X-Request-Id"] = []string{requestID}
	if e.Close {
		h["Connection"] = []string{"close"}
	}
	if e.Allow != "" {
		h["Allow"] = []string{e.Allow}
	}
	if e.RetryAfter > 0 {
		h["Retry-After"] = []string{strconv.Itoa(e.RetryAfter)}
	}
	if e.RateLimitPolicy != "" {
		h["Ratelimit-Policy"] = []string{e.RateLimitPolicy}
	}
	if e.RateLimit != "" {
		h["Ratelimit"] = []string{e.RateLimit}
	}
	if e.Status == http.StatusUnauthorized {
		h["Www-Authenticate"] = []string{`Bearer realm="gatehouse"`}
	}
	msg := http.StatusText(e.Status)
	if e.Status == statusClientClosed {
		msg = genericClientClosedMsg
	}
	body := make([]byte, 0, 128)
	body = append(body, `{"error":`...)
	body = appendJSONString(body, msg)
	body = append(body, `,"status":`...)
	body = strconv.AppendInt(body, int64(e.Status), 10)
	body = append(body, `,"request_id":`...)
	body = appendJSONString(body, requestID)
	if !production {
		body = append(body, `,"reason":`...)
		body = appendJSONString(body, e.Reason)
		if e.Err != nil {
			body = append(body, `,"detail":`...)
			body = appendJSONString(body, e.Err.Error())
		}
	}
	body = append(body, "}\n"...)
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}
