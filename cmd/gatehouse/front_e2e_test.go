package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// frontConfig serves /hr over TLS from a static certificate for
// a.example.test and b.example.test; POST /hr/records goes through a record
// filter, so its body is read whole before anything is forwarded.
const frontConfig = `
server {
  listen              = "127.0.0.1:0"
  tls_listen          = "127.0.0.1:0"
  admin_listen        = "127.0.0.1:0"
  read_header_timeout = "%s"
}

tls {
  cert_file    = "cert.pem"
  key_file     = "key.pem"
  hsts_max_age = "0s"
}

upstream "hr" {
  url    = "%s"
  prefix = "/hr"
}

app "portal" {
  api_key_sha256 = "%s"
  default_role   = "reader"
}

role "reader" {
  allow "hr" {
    paths = ["/employees"]
    verbs = ["GET"]
  }
  allow "hr" {
    paths  = ["/records"]
    verbs  = ["POST"]
    filter = "record.ok == true"
  }
}
`

// frontEnv is a running gatehouse with the TLS listener of frontConfig.
type frontEnv struct {
	p       *process
	stopped bool
	roots   *x509.CertPool
	hits    atomic.Int64 // requests the upstream received
}

func startFront(t *testing.T, readHeaderTimeout string) *frontEnv {
	t.Helper()
	env := &frontEnv{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env.hits.Add(1)
		_, _ = io.WriteString(w, "upstream ok")
	}))
	t.Cleanup(up.Close)
	dir := t.TempDir()
	env.roots = writeCertFor(t, dir, "a.example.test", "b.example.test")
	env.p = startWithConfig(t, dir, fmt.Sprintf(frontConfig, readHeaderTimeout, up.URL, hashKey("k1")))
	t.Cleanup(func() { env.stop(t) })
	if env.p.tls == "" {
		t.Fatal("no tls listener logged")
	}
	return env
}

// stop ends the process once; the log is complete after it.
func (env *frontEnv) stop(t *testing.T) {
	t.Helper()
	if !env.stopped {
		env.stopped = true
		if err := env.p.stop(t); err != nil {
			t.Logf("stop: %v", err)
		}
	}
}

// writeCertFor writes cert.pem and key.pem for names to dir, issued by a
// new CA whose pool it returns.
func writeCertFor(t *testing.T, dir string, names ...string) *x509.CertPool {
	t.Helper()
	ca := newTestCA(t)
	ca.issueFor(t, dir, 7, false, names...)
	return ca.roots
}

// dial opens a TLS connection to the TLS listener with the given SNI ("":
// none, as a client connecting by IP address sends) and ALPN protocol.
func (env *frontEnv) dial(t *testing.T, sni, proto string) *tls.Conn {
	t.Helper()
	cfg := &tls.Config{RootCAs: env.roots, ServerName: sni, NextProtos: []string{proto}}
	if sni == "" || !strings.HasSuffix(sni, "a.example.test") && !strings.HasSuffix(sni, "b.example.test") {
		cfg.InsecureSkipVerify = true // no SNI, or a name the certificate does not cover
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", env.p.tls, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ConnectionState().NegotiatedProtocol; got != proto {
		t.Fatalf("ALPN %q, want %q", got, proto)
	}
	return c
}

// TestFrontE2E_MisdirectedRequests: over TLS, a request whose Host or
// :authority is not a served name, or not the name its connection's SNI
// chose, gets 421 and reaches no upstream; HTTP/2 connection coalescing
// cannot use a connection for a.example.test to reach b.example.test
// (issue 18, point 16).
func TestFrontE2E_MisdirectedRequests(t *testing.T) {
	env := startFront(t, "10s")
	for _, c := range []struct {
		name, sni, host string
		status          int
	}{
		{"SNI a, Host a", "a.example.test", "a.example.test", 200},
		{"SNI a, Host a with port and case", "a.example.test", "A.example.test:443", 200},
		{"SNI a, Host b", "a.example.test", "b.example.test", 421},
		{"SNI a, unknown Host", "a.example.test", "c.example.test", 421},
		{"SNI c (same static certificate), Host c", "c.example.test", "c.example.test", 421},
		{"no SNI, served Host", "", "b.example.test", 200},
		{"no SNI, unknown Host", "", "c.example.test", 421},
		{"no SNI, IP address", "", "127.0.0.1", 421},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := env.hits.Load()
			conn := env.dial(t, c.sni, "http/1.1")
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(conn, "GET /hr/employees HTTP/1.1\r\nHost: %s\r\nX-API-Key: k1\r\nConnection: close\r\n\r\n", c.host)
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != c.status {
				t.Fatalf("got %d %s, want %d", res.StatusCode, body, c.status)
			}
			hits := env.hits.Load() - before
			if c.status == 421 {
				if hits != 0 {
					t.Errorf("upstream hit %d times by a misdirected request", hits)
				}
				var e map[string]any
				if err := json.Unmarshal(body, &e); err != nil || e["status"] != float64(421) {
					t.Errorf("body %q, want gatehouse's JSON error", body)
				}
			} else if hits != 1 {
				t.Errorf("upstream hit %d times, want 1", hits)
			}
		})
	}

	// HTTP/2: one connection opened for a.example.test; a request for
	// b.example.test on it (as a browser coalescing connections sends) is
	// misdirected, and one for a.example.test still works on it after.
	conn := env.dial(t, "a.example.test", "h2")
	defer conn.Close()
	tr := &http.Transport{
		Protocols: new(http.Protocols),
		DialTLSContext: func(context.Context, string, string) (net.Conn, error) {
			return conn, nil // the one connection, opened with SNI a.example.test
		},
	}
	tr.Protocols.SetHTTP2(true)
	cc, err := tr.NewClientConn(context.Background(), "https", "a.example.test:443")
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	before := env.hits.Load()
	for _, c := range []struct {
		authority string
		status    int
	}{
		{"a.example.test", 200},
		{"b.example.test", 421},
		{"c.example.test", 421},
		{"a.example.test", 200},
	} {
		req, _ := http.NewRequest("GET", "https://"+c.authority+"/hr/employees", nil)
		req.Header.Set("X-API-Key", "k1")
		res, err := cc.RoundTrip(req)
		if err != nil {
			t.Fatalf("HTTP/2 :authority %s: %v", c.authority, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != c.status {
			t.Errorf("HTTP/2 on a connection for a.example.test, :authority %s: got %d, want %d", c.authority, res.StatusCode, c.status)
		}
	}
	if hits := env.hits.Load() - before; hits != 2 {
		t.Errorf("upstream hit %d times over HTTP/2, want 2 (the misdirected requests reach nothing)", hits)
	}
	env.p.waitFor(t, "an access line with reason misdirected_request", func(l map[string]any) bool {
		return l["msg"] == "request" && l["status"] == float64(421) && l["reason"] == "misdirected_request"
	})
}

// h2Headers encodes a request header block.
func h2Headers(t *testing.T, fields ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		if err := enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]}); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// h2Open opens an HTTP/2 connection for a.example.test with a raw framer:
// preface and SETTINGS sent.
func (env *frontEnv) h2Open(t *testing.T) (*tls.Conn, *http2.Framer) {
	t.Helper()
	conn := env.dial(t, "a.example.test", "h2")
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return conn, fr
}

// TestFrontE2E_HTTP2HeaderBlockTimeout: an HTTP/2 header block that never
// ends (HEADERS without END_HEADERS, then an empty CONTINUATION now and
// then) is cut after read_header_timeout, not after idle_timeout (120 s);
// a complete block resets nothing on a connection that is then idle for
// longer than the timeout (issue 18, point 18(a)).
func TestFrontE2E_HTTP2HeaderBlockTimeout(t *testing.T) {
	const timeout = time.Second
	env := startFront(t, timeout.String())

	// A normal request, then longer than the timeout without a header
	// block open, then another request on the same connection: served.
	conn, fr := env.h2Open(t)
	get := h2Headers(t, ":method", "GET", ":scheme", "https", ":authority", "a.example.test", ":path", "/hr/employees", "x-api-key", "k1")
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	for i, id := range []uint32{1, 3} {
		if i == 1 {
			time.Sleep(timeout + 500*time.Millisecond) // no header block open: no deadline
		}
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: get, EndStream: true, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		if status := readStatus(t, fr, id); status != "200" {
			t.Fatalf("stream %d: status %s, want 200", id, status)
		}
	}
	conn.Close()

	// A header block that never ends.
	conn, fr = env.h2Open(t)
	start := time.Now()
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: get, EndStream: true, EndHeaders: false}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		wfr := http2.NewFramer(conn, nil) // writes only; fr reads
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if wfr.WriteContinuation(1, false, nil) != nil {
					return
				}
			}
		}
	}()
	// Well below idle_timeout (120 s), well above read_header_timeout.
	const bound = 15 * time.Second
	_ = conn.SetReadDeadline(start.Add(bound))
	var err error
	for err == nil {
		_, err = fr.ReadFrame()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection with an unfinished header block still open after %v (read_header_timeout %v)", bound, timeout)
	}
	t.Logf("connection closed after %v: %v", time.Since(start).Round(time.Millisecond), err)
	if el := time.Since(start); el < timeout {
		t.Errorf("connection closed after %v, before read_header_timeout %v", el, timeout)
	}
}

// readStatus reads frames until the response header of stream id and
// returns its :status.
func readStatus(t *testing.T, fr *http2.Framer, id uint32) string {
	t.Helper()
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading the response of stream %d: %v", id, err)
		}
		if h, ok := f.(*http2.MetaHeadersFrame); ok && h.StreamID == id {
			return h.PseudoValue("status")
		}
	}
}

// TestFrontE2E_RapidResetLogBounded: a rapid-reset flood (HEADERS then
// RST_STREAM, N times) does not write one access line per reset stream:
// at most 10 abandoned requests per 10 s are logged one by one, the rest
// are counted in a summary line (issue 18, point 18(b)).
func TestFrontE2E_RapidResetLogBounded(t *testing.T) {
	const n = 500
	env := startFront(t, "10s")
	conn, fr := env.h2Open(t)
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	// A filtered write waits for its body, so every stream is still being
	// handled when its reset arrives: each one is abandoned.
	post := h2Headers(t, ":method", "POST", ":scheme", "https", ":authority", "a.example.test", ":path", "/hr/records",
		"x-api-key", "k1", "content-type", "application/json", "content-length", "11")
	start := time.Now()
	go func() { // drain the server's frames so that it never blocks on us
		for {
			if _, err := fr.ReadFrame(); err != nil {
				return
			}
		}
	}()
	wfr := http2.NewFramer(conn, nil)
	for i := range n {
		id := uint32(2*i + 1)
		if err := wfr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: post, EndHeaders: true}); err != nil {
			t.Fatalf("stream %d: %v", id, err)
		}
		if err := wfr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
			t.Fatalf("stream %d: %v", id, err)
		}
	}
	// The summary comes at the end of the window in which lines were held
	// back (10 s). Without the bound, there is a line per reset stream.
	count := func() (lines, abandoned, summarized int) {
		for _, l := range env.p.logs() {
			switch {
			case l["msg"] == "request" && l["path"] == "/hr/records":
				lines++
				if l["abandoned"] == true {
					abandoned++
				}
			case l["msg"] == "abandoned requests not logged":
				summarized += int(l["count"].(float64))
			}
		}
		return lines, abandoned, summarized
	}
	for deadline := time.Now().Add(25 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if lines, _, summarized := count(); summarized > 0 || lines >= n {
			break
		}
	}
	elapsed := time.Since(start)
	conn.Close()
	env.stop(t) // writes any pending summary
	lines, abandoned, summarized := count()
	// 10 lines per started 10 s window, plus one window of slack.
	bound := 10 * (int(elapsed/(10*time.Second)) + 2)
	t.Logf("%d resets: %d access lines (%d abandoned), %d summarized, in %v", n, lines, abandoned, summarized, elapsed.Round(time.Millisecond))
	if lines > bound {
		t.Errorf("%d access lines for %d reset streams, want at most %d", lines, n, bound)
	}
	if abandoned != lines {
		t.Errorf("%d of %d lines marked abandoned", abandoned, lines)
	}
	// Streams still queued when reset never start a handler: some may be
	// neither logged nor counted, but none is counted twice.
	if summarized == 0 || lines+summarized > n {
		t.Errorf("logged %d + summarized %d, want a summary and at most %d in all", lines, summarized, n)
	}
	if got := env.hits.Load(); got != 0 {
		t.Errorf("upstream got %d requests, want 0", got)
	}
}
