package proxy

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/proxy/upstream"
)

// earlyHints is an upstream that answers every request with n 103 Early
// Hints responses, 20 ms apart, then a 200 "final"; n < 0: 103s for ever
// (until the connection closes), 150 ms apart, so that fewer than
// upstream.MaxInformational come within the test's 1 s timeout.
func earlyHints(n int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		for i := 0; n < 0 || i < n; i++ {
			_, _ = io.WriteString(brw, "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
			if brw.Flush() != nil {
				return
			}
			pace := 20 * time.Millisecond // the upstream's
			if n < 0 {
				pace = 150 * time.Millisecond
			}
			time.Sleep(pace)
		}
		_, _ = io.WriteString(brw, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nfinal")
		_ = brw.Flush()
	}
}

// TestForward_InformationalResponses: the upstream timeout runs until the
// final response starts, 1xx responses included, and more than
// upstream.MaxInformational of them are refused, on every transport:
// upstream.HTTP1Transport (GET to an http upstream), http.Transport under
// the watchdog (GET to an https upstream) and http.Transport with a body
// (POST).
func TestForward_InformationalResponses(t *testing.T) {
	const timeout = time.Second
	for _, via := range []struct {
		name   string
		tls    bool
		method string
	}{
		{"h1Transport", false, http.MethodGet},
		{"watched http.Transport", true, http.MethodGet},
		{"http.Transport with a body", false, http.MethodPost},
	} {
		for _, tc := range []struct {
			name   string
			n      int
			status int
			reason string
		}{
			{"endless 103", -1, http.StatusGatewayTimeout, reasonUpstreamTimeout},
			{"20 103 then 200", 20, http.StatusBadGateway, reasonUpstreamInformational},
			{"16 103 then 200", upstream.MaxInformational, http.StatusOK, ""},
		} {
			t.Run(via.name+"/"+tc.name, func(t *testing.T) {
				ts, log := rawUpstreamProxy(t, earlyHints(tc.n), via.tls, timeout)
				var body io.Reader
				if via.method == http.MethodPost {
					body = strings.NewReader("x")
				}
				req, _ := http.NewRequest(via.method, ts.URL+"/hr/x", body)
				req.Header.Set("X-API-Key", "key-alpha")
				client := &http.Client{Timeout: 10 * time.Second}
				start := time.Now()
				res, err := client.Do(req)
				if err != nil {
					t.Fatalf("no response: %v", err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				elapsed := time.Since(start)
				if res.StatusCode != tc.status {
					t.Fatalf("status %d after %v, want %d", res.StatusCode, elapsed, tc.status)
				}
				// The timeout, one watchdog tick and slack for a loaded machine.
				if bound := timeout + upstream.WatchdogTick + 2*time.Second; tc.n < 0 && elapsed > bound {
					t.Errorf("504 after %v, want within %v", elapsed, bound)
				}
				if tc.reason == "" {
					return
				}
				recs := log.records(t)
				if len(recs) != 1 || recs[0]["reason"] != tc.reason {
					t.Errorf("access log %v, want one record with reason %q", recs, tc.reason)
				}
			})
		}
	}
}
