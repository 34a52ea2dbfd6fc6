package upstream

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testhttp"
)

func TestUpstreamTimeoutError_IsANetTimeout(t *testing.T) {
	var ne net.Error
	if !errors.As(errUpstreamTimeout, &ne) || !ne.Timeout() {
		t.Fatal("errUpstreamTimeout is not a net.Error with Timeout() true")
	}
	if !strings.Contains(errUpstreamTimeout.Error(), "timeout") {
		t.Errorf("message %q", errUpstreamTimeout)
	}
}

// TestWatchdog_FirstRequestAfterIdleStartIsNotExpired is a regression test:
// the coarse clock must be current when the first connection is watched,
// however long the server was idle before.
func TestWatchdog_FirstRequestAfterIdleStartIsNotExpired(t *testing.T) {
	up := testhttp.NewConnCounter(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(250 * time.Millisecond) // after a tick or two, well within the timeout
		_, _ = io.WriteString(w, "ok")
	})
	p := NewPool(nil)
	defer p.Close()
	p.watchdog.now.Add(-int64(time.Hour)) // as if created an hour ago
	rt := p.Transport(Key{Scheme: "http", Host: strings.TrimPrefix(up.URL, "http://"), Timeout: 800 * time.Millisecond, Watched: true})
	req, _ := http.NewRequest("GET", up.URL+"/hr/employees", nil)
	res, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if body := string(b); res.StatusCode != 200 {
		t.Fatalf("got %d %s, want 200", res.StatusCode, body)
	}
}

// scriptedConn returns its script in reads of at most chunk bytes, then
// io.EOF; writes are discarded.
type scriptedConn struct {
	net.Conn
	r     *strings.Reader
	chunk int
}

func (c *scriptedConn) Read(p []byte) (int, error) {
	if len(p) > c.chunk {
		p = p[:c.chunk]
	}
	return c.r.Read(p)
}

func (c *scriptedConn) Write(p []byte) (int, error) { return len(p), nil }
func (c *scriptedConn) Close() error                { return nil }

// TestWatchedConn_FollowsResponseHeads: what a transport reads from an
// upstream connection after a request, for every way the upstream's bytes
// can be split: a final 204 or 304 ends the connection with its head (what
// follows is never read), 1xx responses are skipped and counted, anything
// else passes untouched.
func TestWatchedConn_FollowsResponseHeads(t *testing.T) {
	const (
		noContent = "HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n"
		hint      = "HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n"
		ok        = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
		stray     = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nSTRAY"
	)
	for _, tc := range []struct {
		name, script, want string
		err                error // after want; io.EOF: the connection ends there
	}{
		{"200 passes", ok + stray, ok + stray, io.EOF},
		{"204 ends the connection", noContent + stray, noContent, io.EOF},
		{"304 with bare LF", "HTTP/1.1 304 Not Modified\nETag: x\n\n" + stray, "HTTP/1.1 304 Not Modified\nETag: x\n\n", io.EOF},
		{"CR inside a field", "HTTP/1.1 204 No Content\r\nX: a\rb\r\n\r\n" + stray, "HTTP/1.1 204 No Content\r\nX: a\rb\r\n\r\n", io.EOF},
		{"103 then 204", hint + hint + noContent + stray, hint + hint + noContent, io.EOF},
		{"103 then 200", hint + ok + stray, hint + ok + stray, io.EOF},
		{"16 1xx then 200", strings.Repeat(hint, MaxInformational) + ok, strings.Repeat(hint, MaxInformational) + ok, io.EOF},
		{"17 1xx", strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", MaxInformational+1) + ok, strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", MaxInformational), ErrTooManyInformational},
		{"200 whose body looks like a 204", ok[:len(ok)-2] + "\r\n" + noContent, ok[:len(ok)-2] + "\r\n" + noContent, io.EOF},
	} {
		for _, chunk := range []int{1, 2, 7, 4096} {
			t.Run(tc.name+"/"+strconv.Itoa(chunk), func(t *testing.T) {
				d := newWatchdog()
				defer d.close()
				c := &watchedConn{Conn: &scriptedConn{r: strings.NewReader(tc.script), chunk: chunk}, d: d}
				_, _ = c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
				got, err := testhttp.ReadUntilError(c, 4096)
				if len(got) > len(tc.script) {
					t.Fatal("read more than the script")
				}
				// The whole 17th status line may or may not have been read
				// when the limit is found: compare what precedes it.
				if !strings.HasPrefix(string(got), tc.want) || (tc.err == io.EOF && string(got) != tc.want) {
					t.Errorf("read %q, want %q", got, tc.want)
				}
				if !errors.Is(err, tc.err) {
					t.Errorf("read error %v, want %v", err, tc.err)
				}
				if n, err := c.Read(make([]byte, 4096)); n != 0 || err == nil {
					t.Errorf("read after the end: %d, %v", n, err)
				}
				if tc.err == io.EOF && c.since.Load() != 0 {
					t.Error("still waiting for a response after the final one started")
				}
			})
		}
	}
}
