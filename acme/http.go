package acme

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// challengePrefix is where ACME HTTP-01 challenge tokens are fetched.
const challengePrefix = "/.well-known/acme-challenge/"

// ErrorWriter writes an error response for the plain-HTTP listener with
// the status and a stable snake_case reason; err holds details for the log
// (nil when there are none). proxy.Server.WriteError is gatehouse's.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, status int, reason string, err error)

// Reasons of the plain-HTTP listener's refusals.
const (
	ReasonMisdirected       = "misdirected_request"    // 421: a host not served over HTTPS
	ReasonBadRequest        = "bad_request"            // 400: a target that is not a path
	ReasonChallengeRefused  = "acme_challenge_refused" // 403: a challenge for a name not in domains
	ReasonChallengeNotFound = "acme_challenge_unknown" // 404: no such challenge token
)

// HTTPHandler returns the handler of the plain-HTTP listener when TLS is
// on. It serves nothing but:
//
//   - ACME HTTP-01 challenges (ACME mode) under /.well-known/acme-challenge/,
//     for the configured domains. The Host header may carry a port: a CA
//     that validates on another port than 80 (a test CA) sends one.
//   - A 308 redirect to https://host[:tlsPort]/path?query for every other
//     request whose host gatehouse serves over HTTPS (KnownHost). The port
//     is left out when tlsPort is "443". 308 keeps the method and body.
//   - 421 Misdirected Request for any other host (including a missing Host
//     or an IP address the certificate does not cover), so that the
//     redirect never points anywhere the certificate cannot serve.
//
// Every error response (421, 400, and the challenge handler's 403 and 404)
// is written by writeError, so that its body is gatehouse's generic one and
// never autocert's own text, which names the library; a nil writeError
// writes plain-text bodies with reason and detail (for tests).
//
// Calling it in ACME mode enables the HTTP-01 challenge in autocert, which
// tries TLS-ALPN-01 first.
func (m *Manager) HTTPHandler(tlsPort string, writeError ErrorWriter) http.Handler {
	if writeError == nil {
		writeError = plainError
	}
	redirect := &redirector{port: tlsPort, known: m.KnownHost, writeError: writeError}
	if m.auto == nil {
		return redirect
	}
	challenge := m.auto.HTTPHandler(redirect)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, challengePrefix) {
			redirect.ServeHTTP(w, r)
			return
		}
		// autocert checks its host policy against r.Host as sent.
		sent := r.Host
		if h, ok := policy.HostName(r.Host); ok && h != r.Host {
			r = r.Clone(r.Context())
			r.Host = h
		}
		sw := &challengeWriter{ResponseWriter: w, status: http.StatusOK}
		challenge.ServeHTTP(sw, r)
		m.log.Debug("http-01 challenge request", "host", sent, "path", r.URL.Path, "remote", r.RemoteAddr, "status", sw.status)
		if sw.failed {
			reason := ReasonChallengeNotFound
			if sw.status == http.StatusForbidden {
				reason = ReasonChallengeRefused
			}
			writeError(w, r, sw.status, reason, errors.New(strings.TrimSpace(sw.text.String())))
		}
	})
}

// redirector sends clients of the HTTP listener to HTTPS.
type redirector struct {
	port       string // TLS port; "443" is left out of the URL
	known      func(host string) bool
	writeError ErrorWriter
}

func (rd *redirector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host, ok := policy.HostName(r.Host)
	if !ok || !rd.known(host) {
		rd.writeError(w, r, http.StatusMisdirectedRequest, ReasonMisdirected,
			fmt.Errorf("host %q: this listener answers only over HTTPS, for its configured names", r.Host))
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/") {
		rd.writeError(w, r, http.StatusBadRequest, ReasonBadRequest, errors.New("request target is not a path"))
		return
	}
	authority := host
	if strings.Contains(host, ":") {
		authority = "[" + host + "]"
	}
	if rd.port != "443" && rd.port != "" {
		authority = net.JoinHostPort(host, rd.port)
	}
	http.Redirect(w, r, "https://"+authority+r.URL.RequestURI(), http.StatusPermanentRedirect)
}

// plainError is the ErrorWriter without a proxy: a plain-text body with
// the status, reason and detail, and the connection closed.
func plainError(w http.ResponseWriter, _ *http.Request, status int, reason string, err error) {
	w.Header().Set("Connection", "close")
	msg := strconv.Itoa(status) + " " + http.StatusText(status) + ": " + reason
	if err != nil {
		msg += ": " + err.Error()
	}
	http.Error(w, msg, status)
}

// HSTS adds "Strict-Transport-Security: max-age=N" (and
// "; includeSubDomains" when asked) to every response of h, error
// responses included; with maxAge 0 it returns h. The header is set when
// the response header is written, replacing any value an upstream sent:
// gatehouse terminates TLS, so it decides.
func HSTS(h http.Handler, maxAge time.Duration, includeSubdomains bool) http.Handler {
	if maxAge <= 0 {
		return h
	}
	v := "max-age=" + strconv.FormatInt(int64(maxAge/time.Second), 10)
	if includeSubdomains {
		v += "; includeSubDomains"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&hstsWriter{ResponseWriter: w, value: v}, r)
	})
}

// hstsWriter sets the HSTS header just before the final response header
// goes out. Unwrap lets http.ResponseController (used by
// httputil.ReverseProxy to flush and to hijack) reach the real writer.
type hstsWriter struct {
	http.ResponseWriter
	value string
	sent  bool
}

func (w *hstsWriter) WriteHeader(code int) {
	if !w.sent && code >= 200 {
		w.sent = true
		w.ResponseWriter.Header()["Strict-Transport-Security"] = []string{w.value}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *hstsWriter) Write(b []byte) (int, error) {
	if !w.sent {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Flush sends the header first, as the real writer's Flush would.
func (w *hstsWriter) Flush() {
	if !w.sent {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *hstsWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// challengeWriter passes a successful challenge response (the token)
// through and holds back an error response (status 400 or more): its body
// is autocert's error text, which the caller replaces with its own. The
// held-back text (at most maxChallengeText bytes) is kept for the log.
type challengeWriter struct {
	http.ResponseWriter
	status int
	failed bool
	text   strings.Builder
}

const maxChallengeText = 256

func (w *challengeWriter) WriteHeader(code int) {
	w.status = code
	if code >= http.StatusBadRequest {
		w.failed = true
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *challengeWriter) Write(b []byte) (int, error) {
	if w.failed {
		if room := maxChallengeText - w.text.Len(); room > 0 {
			w.text.Write(b[:min(len(b), room)])
		}
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}
