package proxy

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testhttp"
)

func TestParseChunkSize(t *testing.T) {
	for _, tc := range []struct {
		line string
		want int64
		ok   bool
	}{
		{"5", 5, true}, {"0", 0, true}, {"000", 0, true}, {"fF", 255, true},
		{"7fffffffffffffff", 1<<63 - 1, true}, {"0000000000000005", 5, true},
		{"5;a", 5, true}, {"5;a=b", 5, true}, {"5 ;a", 5, true}, {"5; a = b ;c", 5, true},
		{`5;a="q \" x"`, 5, true}, {"5;a=\"\x80\"", 5, true}, {"5;a=b;c=\"\"", 5, true},

		{"", 0, false}, {" 5", 0, false}, {"5 ", 0, false}, {"5\t", 0, false}, {"0x5", 0, false},
		{"+5", 0, false}, {"-1", 0, false}, {"5x", 0, false}, {"5 x", 0, false},
		{"8000000000000000", 0, false}, {"ffffffffffffffff", 0, false}, {"00000000000000005", 0, false},
		{"5;", 0, false}, {"5;a ", 0, false}, {"5;a b", 0, false}, {"5;=b", 0, false}, {"5;a=", 0, false},
		{`5;a="x`, 0, false}, {`5;a="x\`, 0, false}, {"5;a=\"\x01\"", 0, false}, {"5;a=b c", 0, false},
		{"5;a@b", 0, false}, {"5\x00", 0, false},
	} {
		got, why := parseChunkSize([]byte(tc.line))
		if (why == "") != tc.ok || got != tc.want {
			t.Errorf("parseChunkSize(%q) = %d, %q; want %d, ok=%v", tc.line, got, why, tc.want, tc.ok)
		}
	}
}

func TestCheckTrailerField(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   bool
	}{
		{"X-T: a", true}, {"X-T:", true}, {"X-T:a b\tc", true}, {"Digest: sha-256=abc", true},
		{" X: a", false}, {"\tX: a", false}, {"X a", false}, {": a", false}, {"X Y: a", false},
		{"X: a\x01", false}, {"X: a\x7f", false}, {"content-length: 5", false},
		{"Transfer-Encoding: chunked", false}, {"Trailer: X", false}, {"HOST: h", false},
	} {
		if got := checkTrailerField([]byte(tc.line)) == ""; got != tc.ok {
			t.Errorf("checkTrailerField(%q) ok = %v, want %v", tc.line, got, tc.ok)
		}
	}
}

// TestFraming_MalformedChunkStopsReads: the follower hands net/http the
// bytes before the offending line (and those of it that came in earlier
// reads, never its end) and then a read error, however the bytes arrive.
func TestFraming_MalformedChunkStopsReads(t *testing.T) {
	head := "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"
	stream := head + "5 x\r\nhello\r\n0\r\n\r\n"
	for _, split := range []int{1, 7, len(head), len(head) + 2, len(stream)} {
		a, b := net.Pipe()
		fc := &framingConn{Conn: a}
		go func() {
			for i := 0; i < len(stream); i += split {
				if _, err := io.WriteString(b, stream[i:min(i+split, len(stream))]); err != nil {
					return
				}
			}
		}()
		_ = a.SetDeadline(time.Now().Add(5 * time.Second))
		got, err := testhttp.ReadUntilError(fc, 64)
		a.Close()
		b.Close()
		if err != errMalformedBody || !strings.HasPrefix(string(got), head) || strings.Contains(string(got), "5 x\r\n") {
			t.Errorf("reads of %d bytes: got %q, %v; want %q and at most part of the next line, errMalformedBody", split, got, err, head)
		}
		if why := fc.bodyFault(1); !strings.Contains(why, "chunk size") {
			t.Errorf("reads of %d bytes: bodyFault(1) = %q", split, why)
		}
	}
}

// TestFraming_PipelinedChunkedRequests: valid chunked bodies with
// extensions and trailers keep the follower in step, so pipelined requests
// after them are served.
func TestFraming_PipelinedChunkedRequests(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	k := "X-API-Key: " + testAdminKey + "\r\n"
	one := "POST /hr/employees HTTP/1.1\r\nHost: x\r\n" + k + "Transfer-Encoding: chunked\r\n\r\n2;a=\"b\"\r\nhe\r\n3\r\nllo\r\n0\r\nX-T: 1\r\n\r\n"
	last := "GET /hr/employees HTTP/1.1\r\nHost: x\r\n" + k + "Connection: close\r\n\r\n"
	_, all := raw(t, p.Listener.Addr().String(), one+one+last)
	if n := strings.Count(all, "HTTP/1.1 200 "); n != 3 {
		t.Fatalf("got %d 200 responses, want 3:\n%s", n, all)
	}
	if got := up.requests(); len(got) != 3 || got[0].Body != "hello" || got[1].Body != "hello" {
		t.Errorf("upstream got %+v", got)
	}
}
