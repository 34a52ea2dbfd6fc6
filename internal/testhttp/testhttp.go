// Package testhttp holds small HTTP helpers shared by the tests of several
// packages (proxy, proxy/upstream): a loopback upstream that counts its
// connections, and a reader that keeps the error a read ended with.
package testhttp

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// ConnCounter is a loopback HTTP upstream that counts new and closed
// connections.
type ConnCounter struct {
	*httptest.Server
	Opened, Closed atomic.Int64
}

// NewConnCounter starts one that answers with h, or "ok" when h is nil.
// It is closed when the test ends.
func NewConnCounter(t testing.TB, h http.HandlerFunc) *ConnCounter {
	c := &ConnCounter{}
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }
	}
	c.Server = httptest.NewUnstartedServer(h)
	c.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			c.Opened.Add(1)
		case http.StateClosed:
			c.Closed.Add(1)
		}
	}
	c.Start()
	t.Cleanup(c.Close)
	return c
}

// ReadUntilError reads r, size bytes at a time, until a read fails and
// returns what it read with that error (io.EOF included, unlike
// io.ReadAll).
func ReadUntilError(r io.Reader, size int) ([]byte, error) {
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
