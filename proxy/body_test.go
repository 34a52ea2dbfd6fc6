package proxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// recordingUpstream is a real HTTP upstream on loopback whose listener
// counts the connections it accepts and keeps every byte it reads, and
// whose handler notes how each request body ended.
type recordingUpstream struct {
	*httptest.Server
	mu       sync.Mutex
	conns    int
	raw      bytes.Buffer
	complete int // requests whose body was read to its end
}

func newRecordingUpstream(t *testing.T) *recordingUpstream {
	t.Helper()
	u := &recordingUpstream{}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		if err == nil {
			u.complete++
		}
		u.mu.Unlock()
		_, _ = io.WriteString(w, "upstream ok")
	}))
	u.Listener = &recordingListener{Listener: u.Listener, u: u}
	u.Start()
	t.Cleanup(u.Close)
	return u
}

// seen returns the connections accepted, the bytes read and the requests
// that arrived whole.
func (u *recordingUpstream) seen() (conns int, raw string, complete int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.conns, u.raw.String(), u.complete
}

type recordingListener struct {
	net.Listener
	u *recordingUpstream
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.u.mu.Lock()
	l.u.conns++
	l.u.mu.Unlock()
	return &recordingConn{Conn: c, u: l.u}, nil
}

type recordingConn struct {
	net.Conn
	u *recordingUpstream
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.u.mu.Lock()
	c.u.raw.Write(p[:n])
	c.u.mu.Unlock()
	return n, err
}

// exchangeRaw sends request on a fresh connection and reads until the
// server closes it, within a deadline: a connection left open is an error.
func exchangeRaw(t *testing.T, addr, request string, halfClose bool) (status string, err error) {
	t.Helper()
	all, err := sendRaw(t, addr, request, halfClose)
	status, _, _ = strings.Cut(all, "\r\n")
	return status, err
}

// malformedChunked are chunked bodies that break RFC 9112 section 7.1.
// net/http's chunked reader refuses the first group and accepts the second.
var malformedChunked = []struct{ name, body string }{
	{"bare LF after size", "5\nhello\r\n0\r\n\r\n"},
	{"bare LF after data", "5\r\nhello\n0\r\n\r\n"},
	{"bare LF after last chunk", "5\r\nhello\r\n0\n\n"},
	{"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n"},
	{"plus sign", "+5\r\nhello\r\n0\r\n\r\n"},
	{"negative size", "-1\r\nhello\r\n0\r\n\r\n"},
	{"17 digits", "10000000000000005\r\nhello\r\n0\r\n\r\n"},
	{"junk after size", "5 x\r\nhello\r\n0\r\n\r\n"},
	{"leading space", " 5\r\nhello\r\n0\r\n\r\n"},
	{"junk after data", "5\r\nhelloXX\r\n0\r\n\r\n"},
	{"bare CR in size line", "5\r;a\r\nhello\r\n0\r\n\r\n"},
	{"trailer without colon", "5\r\nhello\r\n0\r\nbad trailer\r\n\r\n"},

	{"size overflows int63", "ffffffffffffffff\r\nhello\r\n0\r\n\r\n"},
	{"trailing space after size", "5 \r\nhello\r\n0\r\n\r\n"},
	{"trailing tab after size", "5\t\r\nhello\r\n0\r\n\r\n"},
	{"empty chunk extension", "5;\r\nhello\r\n0\r\n\r\n"},
	{"chunk extension with space", "5;a b\r\nhello\r\n0\r\n\r\n"},
	{"unterminated quoted extension", "5;a=\"x\r\nhello\r\n0\r\n\r\n"},
	{"extension value missing", "5;a=\r\nhello\r\n0\r\n\r\n"},
	{"trailer section ends in bare LF", "5\r\nhello\r\n0\r\n\n"},
	{"trailer line ends in bare LF", "5\r\nhello\r\n0\r\nX-T: a\nY: b\r\n\r\n"},
	{"folded trailer", "5\r\nhello\r\n0\r\nX: a\r\n b\r\n\r\n"},
	{"Content-Length trailer", "5\r\nhello\r\n0\r\nContent-Length: 9\r\n\r\n"},
	{"Transfer-Encoding trailer", "5\r\nhello\r\n0\r\ntransfer-encoding: chunked\r\n\r\n"},
	{"control character in trailer", "5\r\nhello\r\n0\r\nX: a\x01b\r\n\r\n"},
}

func chunkedPost(body string) string {
	return "POST /hr/employees HTTP/1.1\r\nHost: x\r\nX-API-Key: " + testAdminKey + "\r\nTransfer-Encoding: chunked\r\n\r\n" + body
}

// TestBody_MalformedChunkedNeverReachesUpstream (issue 18, point 4): a
// chunked body that breaks the grammar gets 400 malformed_body, the
// connection is closed (no read waits for bytes that cannot make it valid),
// and a body within body_buffer_bytes never reaches the upstream: it is not
// even dialled.
func TestBody_MalformedChunkedNeverReachesUpstream(t *testing.T) {
	up := newRecordingUpstream(t)
	p := newTestProxy(t, testSpec(t, up.URL))
	addr := p.Listener.Addr().String()
	for _, tc := range malformedChunked {
		status, err := exchangeRaw(t, addr, chunkedPost(tc.body), false)
		if err != nil {
			t.Errorf("%s: connection not closed after the answer: %v", tc.name, err)
		}
		if !strings.HasPrefix(status, "HTTP/1.1 400 ") {
			t.Errorf("%s: got %q, want 400", tc.name, status)
			continue
		}
		recs := p.log.records(t)
		if got := recs[len(recs)-1]["reason"]; got != reasonMalformedBody {
			t.Errorf("%s: got reason %v, want %s", tc.name, got, reasonMalformedBody)
		}
	}
	if conns, raw, _ := up.seen(); conns != 0 || raw != "" {
		t.Fatalf("upstream accepted %d connections and read %q, want none", conns, raw)
	}
}

// TestBody_MalformedChunkedStreamedIsCut: with body_buffer_bytes = 0 the
// body streams; a malformed chunk still gets 400 malformed_body and closes
// both connections, and the upstream never gets a whole request.
func TestBody_MalformedChunkedStreamedIsCut(t *testing.T) {
	up := newRecordingUpstream(t)
	spec := testSpec(t, up.URL)
	spec.Server.BodyBufferBytes = 0
	p := newTestProxy(t, spec)
	addr := p.Listener.Addr().String()
	for _, tc := range malformedChunked {
		_, _, before := up.seen()
		status, err := exchangeRaw(t, addr, chunkedPost("3\r\nabc\r\n"+tc.body), false)
		if err != nil {
			t.Errorf("%s: connection not closed after the answer: %v", tc.name, err)
		}
		if !strings.HasPrefix(status, "HTTP/1.1 400 ") {
			t.Errorf("%s: got %q, want 400", tc.name, status)
		}
		recs := p.log.records(t)
		if got := recs[len(recs)-1]["reason"]; got != reasonMalformedBody {
			t.Errorf("%s: got reason %v, want %s", tc.name, got, reasonMalformedBody)
		}
		if _, _, after := up.seen(); after != before {
			t.Errorf("%s: the upstream read a whole request", tc.name)
		}
	}
	// Every upstream request that started has ended (cut): Close waits
	// for them.
	closed := make(chan struct{})
	go func() { up.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("an upstream request is still open")
	}
}

// TestBody_ValidChunkedIsReframed: valid chunked bodies (extensions,
// leading zeros, trailers) within body_buffer_bytes reach the upstream
// with a Content-Length, without Transfer-Encoding, trailers or Expect;
// larger ones stream chunked.
func TestBody_ValidChunkedIsReframed(t *testing.T) {
	up := newUpstream(t, nil)
	spec := testSpec(t, up.URL)
	spec.Server.BodyBufferBytes = 16
	p := newTestProxy(t, spec)
	addr := p.Listener.Addr().String()
	for _, body := range []string{
		"5;a=b\r\nhello\r\n0\r\n\r\n",
		"5;a=\"q \\\" x\";b\r\nhello\r\n0\r\n\r\n",
		"000002\r\nhe\r\n3\r\nllo\r\n00\r\nX-T: a\r\nTrailer-Two:\r\n\r\n",
	} {
		req := "POST /hr/employees HTTP/1.1\r\nHost: x\r\nX-API-Key: " + testAdminKey + "\r\nTrailer: X-T\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + body
		status, _ := raw(t, addr, req)
		if !strings.HasPrefix(status, "HTTP/1.1 200 ") {
			recs := p.log.records(t)
			t.Errorf("%q: got %q (%v), want 200", body, status, recs[len(recs)-1]["error"])
			continue
		}
		got := up.last(t)
		if got.Body != "hello" || got.Header.Get("Content-Length") != "5" || got.Header.Get("Transfer-Encoding") != "" ||
			got.Header.Get("Trailer") != "" || got.Header.Get("X-T") != "" {
			t.Errorf("%q: upstream got body %q, header %v; want hello with Content-Length 5 and nothing else", body, got.Body, got.Header)
		}
	}
	big := strings.Repeat("b", 40)
	status, _ := raw(t, addr, "POST /hr/employees HTTP/1.1\r\nHost: x\r\nX-API-Key: "+testAdminKey+"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n28\r\n"+big+"\r\n0\r\n\r\n")
	if !strings.HasPrefix(status, "HTTP/1.1 200 ") {
		t.Fatalf("body over body_buffer_bytes: got %q, want 200", status)
	}
	if got := up.last(t); got.Body != big {
		t.Errorf("streamed body: upstream got %q", got.Body)
	}
}

// TestBody_ClientClosesMidBody (issue 18, point 18c, HTTP/1): a client
// that stops sending before its Content-Length is complete is the client's
// abort (499 client_closed) or error (400 incomplete_body), never a 502,
// whether its body is read whole first or streams.
func TestBody_ClientClosesMidBody(t *testing.T) {
	for _, bufferBytes := range []int64{64 << 10, 0} {
		up := newRecordingUpstream(t)
		spec := testSpec(t, up.URL)
		spec.Server.BodyBufferBytes = bufferBytes
		p := newTestProxy(t, spec)
		req := "POST /hr/employees HTTP/1.1\r\nHost: x\r\nX-API-Key: " + testAdminKey + "\r\nContent-Length: 100\r\n\r\n" + strings.Repeat("x", 40)
		status, err := exchangeRaw(t, p.Listener.Addr().String(), req, true)
		if err != nil {
			t.Errorf("body_buffer_bytes %d: connection not closed after the answer: %v", bufferBytes, err)
		}
		if !strings.HasPrefix(status, "HTTP/1.1 4") {
			t.Errorf("body_buffer_bytes %d: got %q, want a 4xx", bufferBytes, status)
		}
		recs := p.log.records(t)
		rec := recs[len(recs)-1]
		if r := rec["reason"]; r != reasonClientClosed && r != reasonIncompleteBody {
			t.Errorf("body_buffer_bytes %d: got status %v reason %v level %v, want client_closed or incomplete_body", bufferBytes, rec["status"], r, rec["level"])
		}
		if rec["level"] == "ERROR" {
			t.Errorf("body_buffer_bytes %d: a client's abort is logged as an ERROR", bufferBytes)
		}
		if conns, _, complete := up.seen(); complete != 0 || bufferBytes > 0 && conns != 0 {
			t.Errorf("body_buffer_bytes %d: upstream accepted %d connections, %d whole requests", bufferBytes, conns, complete)
		}
	}
}

// newTLSTestProxy serves the real handler over TLS with HTTP/2 enabled, as
// gatehouse's TLS listener does.
func newTLSTestProxy(t *testing.T, spec policy.Spec) (*httptest.Server, *syncBuffer) {
	t.Helper()
	snap, err := policy.New(spec)
	if err != nil {
		t.Fatalf("policy.New: %v", err)
	}
	buf := &syncBuffer{}
	srv := New(Options{Logger: slog.New(slog.NewJSONHandler(buf, nil)), AccessLog: buf})
	srv.Load(snap, nil)
	ts := httptest.NewUnstartedServer(srv)
	ts.EnableHTTP2 = true
	ts.Config.ReadHeaderTimeout = 5 * time.Second
	// HTTP/2 as cmd/gatehouse serves it (x/net/http2 behind h2HeaderConn),
	// not net/http's bundled server.
	if err := ConfigureHTTP2(ts.Config); err != nil {
		t.Fatal(err)
	}
	ts.StartTLS()
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return ts, buf
}

// h2Request sends one request on a fresh HTTP/2 connection with a Framer:
// headers as given (pseudo-headers first) and data, ending the stream with
// the last DATA frame. It returns the response's :status, or 0 and what
// ended the stream instead.
func h2Request(t *testing.T, ts *httptest.Server, headers [][2]string, data string) (int, error) {
	t.Helper()
	cfg := ts.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.NextProtos = []string{"h2"}
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", ts.Listener.Addr().String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q, want h2", p)
	}
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, h := range headers {
		_ = enc.WriteField(hpack.HeaderField{Name: h[0], Value: h[1]})
	}
	err = errors.Join(
		fr.WriteSettings(),
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true, EndStream: data == ""}),
	)
	if data != "" {
		err = errors.Join(err, fr.WriteData(1, true, []byte(data)))
	}
	if err != nil {
		t.Fatal(err)
	}
	dec := hpack.NewDecoder(4096, nil)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return 0, err
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			if f.StreamID != 1 {
				continue
			}
			fields, err := dec.DecodeFull(f.HeaderBlockFragment())
			if err != nil {
				t.Fatal(err)
			}
			for _, hf := range fields {
				if hf.Name == ":status" {
					return strconv.Atoi(hf.Value)
				}
			}
		case *http2.RSTStreamFrame:
			return 0, errors.New(f.ErrCode.String())
		case *http2.GoAwayFrame:
			return 0, errors.New(f.ErrCode.String())
		}
	}
}

func h2Post(authority, contentLength string) [][2]string {
	return [][2]string{
		{":method", "POST"}, {":scheme", "https"}, {":authority", authority}, {":path", "/hr/employees"},
		{"x-api-key", testAdminKey}, {"content-length", contentLength},
	}
}

// TestBody_HTTP2ShortBodyIs400 (issue 18, point 18c): an HTTP/2 request
// whose stream ends before its content-length is the client's fault: 400
// incomplete_body, not 502 upstream_unavailable, both when the body is read
// whole first and when it streams.
func TestBody_HTTP2ShortBodyIs400(t *testing.T) {
	for _, bufferBytes := range []int64{64 << 10, 16} {
		up := newRecordingUpstream(t)
		spec := testSpec(t, up.URL)
		spec.Server.BodyBufferBytes = bufferBytes
		ts, log := newTLSTestProxy(t, spec)
		status, err := h2Request(t, ts, h2Post("example.com", "100"), strings.Repeat("x", 40))
		if status != http.StatusBadRequest {
			t.Errorf("body_buffer_bytes %d: got status %d (%v), want 400", bufferBytes, status, err)
		}
		recs := log.records(t)
		if len(recs) == 0 {
			t.Fatalf("body_buffer_bytes %d: no access record", bufferBytes)
		}
		if r := recs[len(recs)-1]["reason"]; r != reasonIncompleteBody {
			t.Errorf("body_buffer_bytes %d: got reason %v, want %s", bufferBytes, r, reasonIncompleteBody)
		}
		if conns, _, complete := up.seen(); complete != 0 || bufferBytes > 40 && conns != 0 {
			t.Errorf("body_buffer_bytes %d: upstream accepted %d connections, %d whole requests", bufferBytes, conns, complete)
		}
		// A whole body still goes through.
		if status, err := h2Request(t, ts, h2Post("example.com", "5"), "hello"); status != http.StatusOK {
			t.Errorf("body_buffer_bytes %d: whole body: got %d (%v), want 200", bufferBytes, status, err)
		}
	}
}

// TestBody_StalledClientIs408: a client that stops sending its body until
// read_timeout passes is the client's failure (408 body_timeout), not the
// upstream's (504 upstream_timeout), and the upstream is never dialled.
func TestBody_StalledClientIs408(t *testing.T) {
	up := newRecordingUpstream(t)
	snap, err := policy.New(testSpec(t, up.URL))
	if err != nil {
		t.Fatal(err)
	}
	buf := &syncBuffer{}
	srv := New(Options{Logger: slog.New(slog.NewJSONHandler(buf, nil)), AccessLog: buf})
	srv.Load(snap, nil)
	ts := httptest.NewUnstartedServer(srv)
	ts.Listener = FramingListener(ts.Listener)
	ts.Config.ConnContext = FramingConnContext
	ts.Config.ReadTimeout = 300 * time.Millisecond // the timeout under test
	ts.Start()
	t.Cleanup(func() { ts.Close(); srv.Close() })
	req := "POST /hr/employees HTTP/1.1\r\nHost: x\r\nX-API-Key: " + testAdminKey + "\r\nContent-Length: 10\r\n\r\nabc"
	status, err := exchangeRaw(t, ts.Listener.Addr().String(), req, false)
	if err != nil {
		t.Errorf("connection not closed after the answer: %v", err)
	}
	if !strings.HasPrefix(status, "HTTP/1.1 408 ") {
		t.Errorf("got %q, want 408", status)
	}
	if recs := buf.records(t); len(recs) == 0 || recs[len(recs)-1]["reason"] != reasonBodyTimeout {
		t.Errorf("got access records %v, want reason %s", recs, reasonBodyTimeout)
	}
	if conns, _, _ := up.seen(); conns != 0 {
		t.Errorf("upstream accepted %d connections, want 0", conns)
	}
}
