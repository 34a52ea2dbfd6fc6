package testenv

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStartPebble starts Pebble with its DNS server and checks what the
// harness promises: a directory over TLS signed by APIRoots, an issuing
// root from the management API, no orders yet, and a clean stop.
func TestStartPebble(t *testing.T) {
	t.Parallel()
	ports, err := FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	p := StartPebble(t, PebbleOptions{HTTPPort: ports[0], TLSPort: ports[1], Validity: time.Hour})
	if !strings.HasPrefix(p.DirectoryURL, "https://127.0.0.1:") || !strings.HasPrefix(p.ManagementURL, "https://127.0.0.1:") {
		t.Errorf("URLs %q %q, want https on 127.0.0.1", p.DirectoryURL, p.ManagementURL)
	}
	if !strings.Contains(string(p.RootPEM), "BEGIN CERTIFICATE") {
		t.Errorf("RootPEM = %q, want a PEM certificate", p.RootPEM)
	}
	if n := p.Orders(); n != 0 {
		t.Errorf("Orders() = %d before any client, want 0", n)
	}
	// The directory is not reachable without trusting APIRoots.
	if res, err := (&http.Client{Timeout: 5 * time.Second}).Get(p.DirectoryURL); err == nil {
		res.Body.Close()
		t.Error("GET directory with the system roots succeeded, want a certificate error")
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func TestLineCounter(t *testing.T) {
	l := &lineCounter{marker: []byte("Added order")}
	for _, s := range []string{"Pebble Added ord", "er \"x\"\nnothing\nAdded order y\nAdded", " order (unfinished)"} {
		_, _ = l.Write([]byte(s))
	}
	if got := l.count(); got != 2 {
		t.Errorf("count = %d, want 2 (the unfinished line is not counted yet)", got)
	}
}
