package proxy

import (
	"bytes"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// deadlineConn is a net.Conn that reads from a buffer in chunks of a given
// size and records whether a read deadline is set.
type deadlineConn struct {
	net.Conn
	r     *bytes.Reader
	chunk int
	armed bool
	sets  int
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	return c.r.Read(p[:min(len(p), c.chunk)])
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.armed = !t.IsZero()
	c.sets++
	return nil
}

// frame is a raw HTTP/2 frame header and payload.
func frame(typ, flags byte, payload int) []byte {
	b := []byte{byte(payload >> 16), byte(payload >> 8), byte(payload), typ, flags, 0, 0, 0, 1}
	return append(b, make([]byte, payload)...)
}

// TestH2HeaderConn_Deadline: a read deadline is set exactly while a header
// block is open (HEADERS without END_HEADERS up to the CONTINUATION that
// ends it, payloads included) or a frame header is incomplete; DATA, PING
// and complete blocks leave none. Checked with every read size, so that
// frame and read boundaries fall anywhere (issue 18, point 18(a)).
func TestH2HeaderConn_Deadline(t *testing.T) {
	type step struct {
		data  []byte
		armed bool // after the last byte of data was read
	}
	preface := []byte(http2.ClientPreface)
	cases := []struct {
		name  string
		steps []step
	}{
		{"preface and settings", []step{{preface, false}, {frame(0x4, 0, 6), false}}},
		{"complete HEADERS", []step{{preface, false}, {frame(0x1, 0x4|0x1, 20), false}}},
		{"HEADERS without END_HEADERS stays open", []step{{preface, false}, {frame(0x1, 0x1, 20), true}, {frame(0x9, 0, 0), true}, {frame(0x9, 0, 0), true}}},
		{"CONTINUATION with END_HEADERS closes", []step{{preface, false}, {frame(0x1, 0, 20), true}, {frame(0x9, 0, 0), true}, {frame(0x9, 0x4, 7), false}}},
		{"DATA after a block", []step{{preface, false}, {frame(0x1, 0x4, 5), false}, {frame(0x0, 0, 100), false}, {frame(0x6, 0, 8), false}}},
		{"incomplete frame header", []step{{preface, false}, {frame(0x0, 0, 0)[:4], true}}},
		{"trailers block", []step{{preface, false}, {frame(0x1, 0x4, 5), false}, {frame(0x0, 0, 10), false}, {frame(0x1, 0x1, 5), true}, {frame(0x9, 0x4, 0), false}}},
	}
	for _, c := range cases {
		var all []byte
		for _, s := range c.steps {
			all = append(all, s.data...)
		}
		for chunk := 1; chunk <= len(all); chunk++ {
			fc := &deadlineConn{r: bytes.NewReader(all), chunk: chunk}
			hc := newH2HeaderConn(fc, tls.ConnectionState{}, time.Second)
			buf := make([]byte, 64)
			for i, s := range c.steps {
				for n := len(s.data); n > 0; {
					k, err := hc.Read(buf[:min(len(buf), n)])
					if err != nil {
						t.Fatalf("%s, reads of %d: %v", c.name, chunk, err)
					}
					n -= k
				}
				if fc.armed != s.armed {
					t.Fatalf("%s, reads of %d: after step %d deadline set = %v, want %v", c.name, chunk, i, fc.armed, s.armed)
				}
			}
		}
	}
}

// TestH2HeaderConn_ContinuationsDoNotExtend: empty CONTINUATION frames
// read one by one do not move the deadline of the open block.
func TestH2HeaderConn_ContinuationsDoNotExtend(t *testing.T) {
	var all []byte
	all = append(all, http2.ClientPreface...)
	all = append(all, frame(0x1, 0, 10)...)
	for range 50 {
		all = append(all, frame(0x9, 0, 0)...)
	}
	fc := &deadlineConn{r: bytes.NewReader(all), chunk: 1 << 20}
	hc := newH2HeaderConn(fc, tls.ConnectionState{}, time.Second)
	read := func(n int) {
		if _, err := hc.Read(make([]byte, n)); err != nil {
			t.Fatal(err)
		}
	}
	read(len(http2.ClientPreface))
	read(9) // HEADERS frame header: the block opens
	read(10)
	sets := fc.sets
	for range 50 {
		read(9)
	}
	if !fc.armed || sets != 1 || fc.sets != sets {
		t.Errorf("deadline set %d times at the block's start and %d times by its CONTINUATION frames (armed %v), want once, then never", sets, fc.sets-sets, fc.armed)
	}
}
