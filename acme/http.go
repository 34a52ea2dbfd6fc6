package acme

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// challengePrefix is where ACME HTTP-01 challenge tokens are fetched.
const challengePrefix = "/.well-known/acme-challenge/"

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
// Calling it in ACME mode enables the HTTP-01 challenge in autocert, which
// tries TLS-ALPN-01 first.
func (m *Manager) HTTPHandler(tlsPort string) http.Handler {
	redirect := &redirector{port: tlsPort, known: m.KnownHost}
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
		if h, ok := hostOnly(r.Host); ok && h != r.Host {
			r = r.Clone(r.Context())
			r.Host = h
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		challenge.ServeHTTP(sw, r)
		m.log.Debug("http-01 challenge request", "host", sent, "path", r.URL.Path, "remote", r.RemoteAddr, "status", sw.status)
	})
}

// redirector sends clients of the HTTP listener to HTTPS.
type redirector struct {
	port  string // TLS port; "443" is left out of the URL
	known func(host string) bool
}

func (rd *redirector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host, ok := hostOnly(r.Host)
	if !ok || !rd.known(host) {
		w.Header().Set("Connection", "close")
		http.Error(w, "421 Misdirected Request: this server answers only over HTTPS, for its configured names", http.StatusMisdirectedRequest)
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/") {
		http.Error(w, "400 Bad Request", http.StatusBadRequest)
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

// hostOnly returns the host of a Host header, without port, brackets or a
// trailing dot, in lower case; false when there is none.
func hostOnly(hostport string) (string, bool) {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	} else if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	h = normalizeName(h)
	return h, h != ""
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

// statusWriter records the status of a challenge response for the log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
