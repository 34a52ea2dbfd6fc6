package testenv

import (
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
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pebbleHint tells a developer how to get Pebble; it is the Skip/Fatal text.
const pebbleHint = "go install github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.1 github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@v2.10.1; ./scripts/test.sh installs them"

// Bounds for starting and stopping Pebble. Both start in ~0.05 s.
const (
	pebbleReadyTimeout = 10 * time.Second
	pebbleStopTimeout  = 5 * time.Second
	pebbleStartTries   = 3
)

// PebbleOptions configures StartPebble.
type PebbleOptions struct {
	// HTTPPort and TLSPort are the ports Pebble's validation authority
	// connects to on 127.0.0.1 (every name resolves there) for HTTP-01 and
	// TLS-ALPN-01: the listeners of the server under test. A port where
	// nothing listens makes that challenge fail. Both are required.
	HTTPPort, TLSPort int
	// Validity is the lifetime of issued certificates, in whole seconds;
	// zero means Pebble's default (90 days). Make it short to see renewals.
	Validity time.Duration
	// EABKeys, when not empty, makes External Account Binding mandatory
	// and lists the accepted key ids with their base64url HMAC keys.
	EABKeys map[string]string
}

// Pebble is a running Pebble ACME test CA with pebble-challtestsrv as its
// DNS resolver, private to one test. Every name resolves to 127.0.0.1 (A
// records only) and challenges are validated for real, from 127.0.0.1.
type Pebble struct {
	// DirectoryURL is the ACME directory, https://127.0.0.1:PORT/dir.
	DirectoryURL string
	// ManagementURL is Pebble's management API (roots, intermediates).
	ManagementURL string
	// APICAFile and APIRoots hold the CA of the certificate Pebble's own
	// HTTPS API presents: what a client must trust to reach DirectoryURL.
	APICAFile string
	APIRoots  *x509.CertPool
	// Roots holds the root that issued certificates chain to, from the
	// management API (/roots/0). Pebble makes a new one at every start.
	Roots   *x509.CertPool
	RootPEM []byte

	Dir string // configuration and certificates

	orders  *lineCounter
	pebble  *child
	dns     *child
	stopErr error
	once    sync.Once
}

// StartPebble starts pebble-challtestsrv and Pebble on free 127.0.0.1
// ports, waits until the directory answers, fetches the issuing root, and
// registers t.Cleanup to stop both. It skips the test (or fails it in CI)
// when the binaries are missing. Pebble's randomness is tamed so that
// timings mean something: PEBBLE_VA_NOSLEEP=1 removes the random 0-15 s
// validation delay, and PEBBLE_WFE_NONCEREJECT=0 the 5% of rejected nonces
// (each costs golang.org/x/crypto/acme a backoff of a second or more).
// Authorization reuse stays at Pebble's default.
func StartPebble(t testing.TB, opts PebbleOptions) *Pebble {
	t.Helper()
	Need(t, "pebble", pebbleHint)
	Need(t, "pebble-challtestsrv", pebbleHint)
	pebblePath, _ := lookTool("pebble")
	dnsPath, _ := lookTool("pebble-challtestsrv")
	if opts.HTTPPort <= 0 || opts.TLSPort <= 0 {
		t.Fatal("testenv: PebbleOptions.HTTPPort and TLSPort are required")
	}

	p := &Pebble{Dir: t.TempDir(), orders: &lineCounter{marker: []byte("Added order")}}
	// Pebble's own API certificate: made here, for 127.0.0.1, so that the
	// one bundled with Pebble (which expires in 2027) is never needed.
	certs, err := writeTestCerts(p.Dir)
	if err != nil {
		t.Fatalf("testenv: certificates: %v", err)
	}
	p.APICAFile, p.APIRoots = certs.caFile, certs.pool
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})

	for try := 1; ; try++ {
		err := p.start(pebblePath, dnsPath, opts, certs)
		if err == nil {
			break
		}
		logs := p.Log()
		_ = p.Stop()
		p.once = sync.Once{}
		if errors.Is(err, errPortInUse) && try < pebbleStartTries {
			t.Logf("testenv: pebble: %v; retrying with other ports", err)
			continue
		}
		t.Fatalf("testenv: pebble: %v\n--- logs ---\n%s", err, logs)
	}
	return p
}

// start runs the DNS server and Pebble on new free ports and waits for
// both, then fetches the issuing root.
func (p *Pebble) start(pebblePath, dnsPath string, opts PebbleOptions, certs *testCerts) error {
	ports, err := FreePorts(4)
	if err != nil {
		return err
	}
	api, mgmt, dns, dnsMgmt := ports[0], ports[1], ports[2], ports[3]
	addr := func(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

	// Every listener of challtestsrv defaults to a well-known port on all
	// interfaces: the challenge servers are turned off, the rest moved.
	p.dns = newChild(exec.Command(dnsPath,
		"-dnsserver", addr(dns), "-management", addr(dnsMgmt),
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", ""), nil, nil)
	if err := p.dns.start(); err != nil {
		return err
	}
	if err := waitTCP(p.dns, addr(dns), addr(dnsMgmt)); err != nil {
		return fmt.Errorf("pebble-challtestsrv: %w", err)
	}

	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  addr(api),
		"managementListenAddress":        addr(mgmt),
		"certificate":                    certs.certFile,
		"privateKey":                     certs.keyFile,
		"httpPort":                       opts.HTTPPort,
		"tlsPort":                        opts.TLSPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": len(opts.EABKeys) > 0,
		"externalAccountMACKeys":         opts.EABKeys,
		"retryAfter":                     map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm":                   "ecdsa",
		"profiles": map[string]any{"default": map[string]any{
			"description": "default", "validityPeriod": int64(opts.Validity / time.Second),
		}},
	}}
	data, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	cfgFile := filepath.Join(p.Dir, "pebble-config.json")
	if err := os.WriteFile(cfgFile, data, 0o600); err != nil {
		return err
	}
	cmd := exec.Command(pebblePath, "-config", cfgFile, "-dnsserver", addr(dns))
	cmd.Dir = p.Dir
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	p.pebble = newChild(cmd, nil, p.orders)
	if err := p.pebble.start(); err != nil {
		return err
	}
	p.DirectoryURL = "https://" + addr(api) + "/dir"
	p.ManagementURL = "https://" + addr(mgmt)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: p.APIRoots},
		Proxy:           nil, // loopback only, whatever the environment says
	}}
	defer client.CloseIdleConnections()
	if err := pollUntil(p.pebble, func() error {
		res, err := client.Get(p.DirectoryURL)
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", p.DirectoryURL, res.Status)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("pebble: %w", err)
	}
	res, err := client.Get(p.ManagementURL + "/roots/0")
	if err != nil {
		return err
	}
	defer res.Body.Close()
	p.RootPEM, err = io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	p.Roots = x509.NewCertPool()
	if res.StatusCode != http.StatusOK || !p.Roots.AppendCertsFromPEM(p.RootPEM) {
		return fmt.Errorf("pebble /roots/0: %s %q", res.Status, p.RootPEM)
	}
	return nil
}

// Orders returns how many ACME orders Pebble has created so far (the
// "Added order" lines of its log).
func (p *Pebble) Orders() int { return p.orders.count() }

// Log returns the end of Pebble's and challtestsrv's logs.
func (p *Pebble) Log() string {
	var b strings.Builder
	if p.pebble != nil {
		fmt.Fprintf(&b, "--- pebble ---\n%s", p.pebble.log.String())
	}
	if p.dns != nil {
		fmt.Fprintf(&b, "--- pebble-challtestsrv ---\n%s", p.dns.log.String())
	}
	return b.String()
}

// Stop terminates Pebble and the DNS server (SIGTERM, then SIGKILL) and
// waits for them, within bounds. It is idempotent; t.Cleanup calls it.
func (p *Pebble) Stop() error {
	p.once.Do(func() {
		for _, c := range []*child{p.pebble, p.dns} {
			if c == nil {
				continue
			}
			if err := c.stop(syscall.SIGTERM, pebbleStopTimeout); err != nil && p.stopErr == nil {
				p.stopErr = err
			}
		}
	})
	return p.stopErr
}

// pollUntil calls probe every 20 ms until it succeeds, c exits, or
// pebbleReadyTimeout passes.
func pollUntil(c *child, probe func() error) error { return c.waitReady(pebbleReadyTimeout, probe) }

// waitTCP waits until every address accepts TCP connections.
// challtestsrv logs a failed bind and keeps running, so its log is
// checked as well.
func waitTCP(c *child, addrs ...string) error {
	inUse := c.portInUse
	err := pollUntil(c, func() error {
		if inUse() {
			return nil
		}
		for _, a := range addrs {
			ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
			conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", a)
			cancel()
			if err != nil {
				return err
			}
			conn.Close()
		}
		return nil
	})
	if err == nil && inUse() {
		return fmt.Errorf("%w: %s", errPortInUse, strings.TrimSpace(c.log.String()))
	}
	return err
}

// lineCounter counts the lines written to it that contain marker.
type lineCounter struct {
	marker []byte
	mu     sync.Mutex
	part   []byte // the last, unfinished line
	n      int
}

func (l *lineCounter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, b...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			break
		}
		if bytes.Contains(l.part[:i], l.marker) {
			l.n++
		}
		l.part = l.part[i+1:]
	}
	if len(l.part) > 64<<10 { // a runaway line: keep the tail only
		l.part = append(l.part[:0], l.part[len(l.part)-len(l.marker):]...)
	}
	return len(b), nil
}

func (l *lineCounter) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}
