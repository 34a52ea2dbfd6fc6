package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseInt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		base int
		want int64
		ok   bool
	}{
		{"0", 10, 0, true}, {"1234", 10, 1234, true}, {"ff", 16, 255, true}, {"FF", 16, 255, true},
		{"1a", 10, 0, false}, {"", 10, 0, false}, {"-1", 10, 0, false}, {"\x10", 10, 0, false},
		{"12345678901234567", 10, 0, false}, {"g", 16, 0, false},
	} {
		got, err := parseInt([]byte(tc.in), tc.base)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseInt(%q, %d) = %d, %v; want %d, ok=%v", tc.in, tc.base, got, err, tc.want, tc.ok)
		}
	}
}

// TestFraming_ExpectContinue: the body of an "Expect: 100-continue" request
// arrives after the interim response; the follower must stay in step and
// the request must reach the upstream whole.
func TestFraming_ExpectContinue(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	c, err := net.DialTimeout("tcp", p.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	head := "POST /hr/employees HTTP/1.1\r\nHost: x\r\nX-API-Key: " + testAdminKey + "\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("got %q, %v; want 100 Continue", line, err)
	}
	_, _ = br.ReadString('\n') // the empty line after the interim response
	_, _ = io.WriteString(c, "hello")
	_, _ = io.WriteString(c, "GET /hr/employees HTTP/1.1\r\nHost: x\r\nX-API-Key: "+testAdminKey+"\r\nConnection: close\r\n\r\n")
	for i := 0; i < 2; i++ {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		if res.StatusCode == http.StatusContinue {
			// The upstream's own 100 Continue, relayed by ReverseProxy: an
			// interim response, not one of the two final ones.
			i--
			continue
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("response %d: got %d, want 200", i, res.StatusCode)
		}
	}
	if got := up.requests(); len(got) != 2 || got[0].Body != "hello" {
		t.Errorf("upstream got %+v", got)
	}
}

// TestFraming_ObsoleteLineFoldingRefused: net/http joins folded header
// lines, so a folded Content-Length could hide a framing conflict from a
// follower that did not; gatehouse refuses any folded request head.
func TestFraming_ObsoleteLineFoldingRefused(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	k := "X-API-Key: " + testAdminKey + "\r\n"
	for name, req := range map[string]string{
		"folded Content-Length with chunked": "POST /hr/employees HTTP/1.1\r\nHost: x\r\n" + k + "Content-Length:\r\n 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"folded ordinary header":             "GET /hr/employees HTTP/1.1\r\nHost: x\r\n" + k + "X-Note: a\r\n b\r\n\r\n",
	} {
		status, _ := raw(t, p.Listener.Addr().String(), req)
		if !strings.HasPrefix(status, "HTTP/1.1 400 ") {
			t.Errorf("%s: got %q, want 400", name, status)
		}
	}
	if n := len(up.requests()); n != 0 {
		t.Fatalf("upstream got %d requests, want 0", n)
	}
	recs := p.log.records(t)
	if len(recs) == 0 || recs[len(recs)-1]["reason"] != "ambiguous_framing" {
		t.Errorf("last access record %v, want reason ambiguous_framing", recs)
	}
}

// TestFraming_ConnectionClosedOnceNotFollowed: after a request the follower
// cannot follow past (here a refused upgrade), the connection is closed, so
// a request after it can never go unchecked.
func TestFraming_ConnectionClosedOnceNotFollowed(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	k := "X-API-Key: " + testAdminKey + "\r\n"
	reqs := "GET /hr/employees HTTP/1.1\r\nHost: x\r\n" + k + "Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n" +
		"POST /hr/employees HTTP/1.1\r\nHost: x\r\n" + k + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	_, all := raw(t, p.Listener.Addr().String(), reqs)
	if n := strings.Count(all, "HTTP/1.1 "); n != 1 || !strings.HasPrefix(all, "HTTP/1.1 400 ") {
		t.Fatalf("got %d responses, want exactly one 400:\n%s", n, all)
	}
	if n := len(up.requests()); n != 0 {
		t.Fatalf("upstream got %d requests, want 0", n)
	}
}

// TestFraming_UnreadableContentLengthRefused: a Content-Length net/http
// accepts but the follower cannot read (leading zeros past 16 digits) is
// refused rather than left unchecked.
func TestFraming_UnreadableContentLengthRefused(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	req := "POST /hr/employees HTTP/1.1\r\nHost: x\r\nX-API-Key: " + testAdminKey + "\r\nContent-Length: 00000000000000000005\r\n\r\nhello"
	status, _ := raw(t, p.Listener.Addr().String(), req)
	if !strings.HasPrefix(status, "HTTP/1.1 400 ") {
		t.Errorf("got %q, want 400", status)
	}
	if n := len(up.requests()); n != 0 {
		t.Fatalf("upstream got %d requests, want 0", n)
	}
}

// TestFraming_UpgradeAnsweredWithoutSwitchingClosesConnection: an upstream
// that answers a WebSocket upgrade with a plain 200 must not leave the
// connection open for requests the follower no longer checks.
func TestFraming_UpgradeAnsweredWithoutSwitchingClosesConnection(t *testing.T) {
	up := newUpstream(t, nil) // answers 200, never 101
	p := newTestProxy(t, testSpec(t, up.URL))
	k := "X-API-Key: " + testAdminKey + "\r\n"
	reqs := "GET /hr/employees HTTP/1.1\r\nHost: x\r\n" + k + "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n" +
		"GET /hr/employees/2 HTTP/1.1\r\nHost: x\r\n" + k + "\r\n"
	_, all := raw(t, p.Listener.Addr().String(), reqs)
	if n := strings.Count(all, "HTTP/1.1 "); n != 1 || !strings.HasPrefix(all, "HTTP/1.1 200 ") || !strings.Contains(all, "Connection: close") {
		t.Fatalf("got %d responses, want one 200 with Connection: close:\n%s", n, all)
	}
	if n := len(up.requests()); n != 1 {
		t.Fatalf("upstream got %d requests, want 1", n)
	}
}
