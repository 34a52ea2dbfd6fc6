package upstream

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// connCounter is an upstream that counts new and closed connections.
type connCounter struct {
	*httptest.Server
	opened, closed atomic.Int64
}

// newConnCounter starts one that answers with h.
func newConnCounter(t testing.TB, h http.HandlerFunc) *connCounter {
	c := &connCounter{}
	c.Server = httptest.NewUnstartedServer(h)
	c.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			c.opened.Add(1)
		case http.StateClosed:
			c.closed.Add(1)
		}
	}
	c.Start()
	t.Cleanup(c.Close)
	return c
}

// readUntilError reads r, size bytes at a time, until a read fails and
// returns what it read with that error (io.EOF included, unlike
// io.ReadAll).
func readUntilError(r io.Reader, size int) ([]byte, error) {
	var got []byte
	buf := make([]byte, size)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return got, err
		}
	}
}
