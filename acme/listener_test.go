package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/settings"
)

// marked is what the test's WrapHTTP1 returns.
type marked struct{ net.Conn }

// TestListener serves HTTP/1.1 and HTTP/2 through NewListener with a real
// http.Server: both see Request.TLS; only HTTP/1 connections are wrapped
// (and UnwrapHTTP1 finds the wrapper from ConnContext); plain HTTP gets
// 400; a silent client is cut off by the handshake timeout; Close ends
// Serve.
func TestListener(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writePair(t, dir, "api.example.test")
	m := newManager(t, &settings.TLS{CertFile: certFile, KeyFile: keyFile}, nil)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewListener(raw, m.TLSConfig(), ListenerOptions{
		HandshakeTimeout: 300 * time.Millisecond,
		WrapHTTP1:        func(c net.Conn) net.Conn { return marked{c} },
	})
	type seen struct {
		proto   string
		tls     bool
		wrapped bool
	}
	var mu sync.Mutex
	var got []seen
	type wrappedKey struct{}
	srv := &http.Server{
		TLSConfig: m.TLSConfig(),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			got = append(got, seen{r.Proto, r.TLS != nil && r.TLS.HandshakeComplete, r.Context().Value(wrappedKey{}) == true})
			mu.Unlock()
			_, _ = io.WriteString(w, "ok")
		}),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			_, ok := UnwrapHTTP1(c).(marked)
			return context.WithValue(ctx, wrappedKey{}, ok)
		},
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	for _, h2 := range []bool{false, true} {
		tr := &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: "api.example.test"},
			ForceAttemptHTTP2: h2,
		}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		res, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + raw.Addr().String() + "/")
		if err != nil {
			t.Fatalf("http2=%v: %v", h2, err)
		}
		res.Body.Close()
		tr.CloseIdleConnections()
	}
	mu.Lock()
	want := []seen{{"HTTP/1.1", true, true}, {"HTTP/2.0", true, false}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("handler saw %+v, want %+v", got, want)
	}
	mu.Unlock()

	// Plain HTTP on the TLS port.
	c, err := net.DialTimeout("tcp", raw.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, _ := io.ReadAll(c)
	c.Close()
	if !strings.HasPrefix(string(resp), "HTTP/1.0 400 Bad Request") {
		t.Errorf("plain HTTP to the TLS port: got %q, want 400", resp)
	}

	// A client that never sends its ClientHello.
	c, err = net.DialTimeout("tcp", raw.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = c.Read(make([]byte, 1))
	c.Close()
	if errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Errorf("silent client: read returned %v after %v, want the server to close after ~300ms", err, time.Since(start))
	}

	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
}
