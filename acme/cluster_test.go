package acme

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/settings"
	"github.com/gatehouse-dev/gatehouse/store/redisstore"
)

// cluster is Pebble, one Redis and n Managers sharing it, as n gatehouse
// instances would. Pebble reaches one address per challenge type: the
// HTTP-01 port is served by instance httpBy, the TLS-ALPN-01 port by
// instance tlsBy (or by nothing).
type cluster struct {
	pebble *testenv.Pebble
	redis  *testenv.Redis
	ms     []*Manager
	logs   []*logBuffer
}

type clusterSetup struct {
	n             int
	httpBy, tlsBy int // instance index; -1 = nothing listens
	validity      time.Duration
	domains       []string
}

func startCluster(t *testing.T, s clusterSetup) *cluster {
	t.Helper()
	c := &cluster{redis: testenv.StartRedis(t, testenv.RedisOptions{})}
	var lns []net.Listener
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		lns = append(lns, ln)
	}
	httpLn, tlsLn := lns[0], lns[1]
	port := func(ln net.Listener) int { return ln.Addr().(*net.TCPAddr).Port }
	c.pebble = testenv.StartPebble(t, testenv.PebbleOptions{HTTPPort: port(httpLn), TLSPort: port(tlsLn), Validity: s.validity})

	for i := range s.n {
		rdb := redis.NewClient(c.redis.ClientOptions()) // one client per instance
		t.Cleanup(func() { rdb.Close() })
		log, buf := newLogger()
		certs, err := redisstore.NewCertificates(rdb, "gh:", redisstore.CertificatesOptions{
			EncryptionSecret: []byte("cluster secret"), LockTTL: 3 * time.Second, Logger: log,
		})
		if err != nil {
			t.Fatal(err)
		}
		spec := &settings.TLS{ACME: &settings.ACME{
			Domains:      s.domains,
			DirectoryURL: c.pebble.DirectoryURL,
			CacheDir:     filepath.Join(t.TempDir(), "unused"),
			CARoots:      c.pebble.APIRoots,
		}}
		m, err := New(spec, Options{Logger: log.With("instance", i), Certificates: certs, Locker: certs})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Close() })
		// Every instance has its HTTP listener, which enables HTTP-01.
		h := m.HTTPHandler(strconv.Itoa(port(tlsLn)), nil)
		if i == s.httpBy {
			srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
			go func() { _ = srv.Serve(httpLn) }()
			t.Cleanup(func() { srv.Close() })
		}
		if i == s.tlsBy {
			ln := tls.NewListener(tlsLn, m.TLSConfig())
			go func() {
				for {
					conn, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
						_ = conn.(*tls.Conn).Handshake()
						conn.Close()
					}()
				}
			}()
		}
		c.ms = append(c.ms, m)
		c.logs = append(c.logs, buf)
	}
	if s.httpBy < 0 {
		httpLn.Close()
	}
	if s.tlsBy < 0 {
		tlsLn.Close()
	}
	return c
}

// hello is a modern client's ClientHello for name (ECDSA).
func hello(name string) *tls.ClientHelloInfo {
	return &tls.ClientHelloInfo{
		ServerName:        name,
		SupportedProtos:   []string{"h2", "http/1.1"},
		CipherSuites:      []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		SupportedCurves:   []tls.CurveID{tls.X25519, tls.CurveP256},
		SignatureSchemes:  []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
		SupportedVersions: []uint16{tls.VersionTLS13, tls.VersionTLS12},
	}
}

// get asks instance i for name's certificate, as a handshake would, and
// checks that it chains to Pebble's root.
func (c *cluster) get(t *testing.T, i int, name string) (*x509.Certificate, error) {
	cert, err := c.ms[i].TLSConfig().GetCertificate(hello(name))
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, err
	}
	inter := x509.NewCertPool()
	for _, der := range cert.Certificate[1:] {
		if ic, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(ic)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: c.pebble.Roots, Intermediates: inter}); err != nil {
		return nil, fmt.Errorf("instance %d: %v", i, err)
	}
	return leaf, nil
}

// concurrentGets has every instance ask for name from several goroutines
// at once and returns the serials served.
func (c *cluster) concurrentGets(t *testing.T, name string, perInstance int) map[string]int {
	t.Helper()
	var mu sync.Mutex
	serials := map[string]int{}
	var wg sync.WaitGroup
	for i := range c.ms {
		for range perInstance {
			wg.Go(func() {
				leaf, err := c.get(t, i, name)
				if err != nil {
					t.Errorf("instance %d: %v", i, err)
					return
				}
				mu.Lock()
				serials[leaf.SerialNumber.Text(16)]++
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	return serials
}

// stored counts the "certificate stored" lines with event, per instance.
func (c *cluster) stored(event string) []int {
	n := make([]int, len(c.ms))
	for i, l := range c.logs {
		for _, line := range l.lines("certificate stored") {
			if line["event"] == event {
				n[i]++
			}
		}
	}
	return n
}

func sum(ns []int) int {
	s := 0
	for _, n := range ns {
		s += n
	}
	return s
}

// Three instances, twelve concurrent first handshakes for a name: one
// order, one certificate served by all three; the TLS-ALPN-01 challenge is
// answered by instance 2 whoever ordered. Then a name only instance 0
// asks for: instance 2 answers the challenge of instance 0's order from
// the shared store.
func TestCluster_OneOrderPerName_TLSALPN01(t *testing.T) {
	c := startCluster(t, clusterSetup{n: 3, httpBy: -1, tlsBy: 2, domains: []string{"a.cluster.test", "b.cluster.test"}})
	start := time.Now()
	serials := c.concurrentGets(t, "a.cluster.test", 4)
	t.Logf("12 concurrent first handshakes on 3 instances: %v; serials %v; Pebble orders %d; stored per instance %v",
		time.Since(start).Round(time.Millisecond), serials, c.pebble.Orders(), c.stored("obtained"))
	if len(serials) != 1 {
		t.Errorf("serials served = %v, want one certificate", serials)
	}
	if n := c.pebble.Orders(); n != 1 {
		t.Errorf("Pebble orders = %d, want 1\n%s", n, c.pebble.Log())
	}
	if n := sum(c.stored("obtained")); n != 1 {
		t.Errorf("certificates stored = %d, want 1", n)
	}

	before := c.stored("obtained")[0]
	if _, err := c.get(t, 0, "b.cluster.test"); err != nil {
		t.Fatalf("instance 0 ordering b (challenge answered by instance 2): %v\n%s", err, c.pebble.Log())
	}
	if got := c.stored("obtained"); got[0] != before+1 || sum(got) != 2 {
		t.Errorf("stored per instance %v: b was not ordered by instance 0", got)
	}
	if n := c.pebble.Orders(); n != 2 {
		t.Errorf("Pebble orders = %d, want 2 (one per name)", n)
	}
	// The other instances load it from the store: no new order.
	for i := 1; i < 3; i++ {
		if _, err := c.get(t, i, "b.cluster.test"); err != nil {
			t.Errorf("instance %d: %v", i, err)
		}
	}
	if n := c.pebble.Orders(); n != 2 {
		t.Errorf("Pebble orders = %d after the others loaded b, want 2", n)
	}
	// Nothing of the store is readable without the secret.
	raw, err := c.redis.Do("GET", "gh:cert:"+cacheSubdir(c.pebble.DirectoryURL)+"/b.cluster.test")
	if s, _ := raw.(string); err != nil || len(s) < 20 || s[:10] != "gh-aead-1:" {
		t.Errorf("stored certificate is not encrypted: %.40q, %v", raw, err)
	}
}

// HTTP-01 only (nothing answers TLS-ALPN-01): instance 1 serves the HTTP
// listener the CA reaches, instance 0 orders. As for one instance, the
// failed TLS-ALPN-01 attempt costs an order, then HTTP-01 succeeds: two
// orders for three instances asking at once (six without the lock).
func TestCluster_OneOrderPerName_HTTP01(t *testing.T) {
	c := startCluster(t, clusterSetup{n: 3, httpBy: 1, tlsBy: -1, domains: []string{"h.cluster.test", "i.cluster.test"}})
	if _, err := c.get(t, 0, "h.cluster.test"); err != nil {
		t.Fatalf("instance 0 ordering (HTTP-01 answered by instance 1): %v\n%s", err, c.pebble.Log())
	}
	if got := c.stored("obtained"); got[0] != 1 || sum(got) != 1 {
		t.Errorf("stored per instance %v, want instance 0 only", got)
	}
	if n := c.pebble.Orders(); n != 2 {
		t.Errorf("Pebble orders = %d, want 2 (TLS-ALPN-01 failed, then HTTP-01)", n)
	}
	serials := c.concurrentGets(t, "i.cluster.test", 3)
	t.Logf("9 concurrent first handshakes, HTTP-01: serials %v; Pebble orders %d (2 before)", serials, c.pebble.Orders())
	if len(serials) != 1 {
		t.Errorf("serials served = %v, want one", serials)
	}
	if n := c.pebble.Orders(); n != 4 {
		t.Errorf("Pebble orders = %d, want 4", n)
	}
}

// Short certificates: every instance's autocert renewal timer fires at
// about two thirds of the lifetime; one instance renews, the others adopt
// the renewed certificate from the store.
func TestCluster_RenewalOnce(t *testing.T) {
	c := startCluster(t, clusterSetup{n: 3, httpBy: 0, tlsBy: 1, validity: 9 * time.Second, domains: []string{"r.cluster.test"}})
	serials := c.concurrentGets(t, "r.cluster.test", 2)
	if len(serials) != 1 || c.pebble.Orders() != 1 {
		t.Fatalf("first certificate: serials %v, orders %d", serials, c.pebble.Orders())
	}
	var first string
	for s := range serials {
		first = s
	}
	// Renewal at ~6 s of 9; wait until every instance serves a new one.
	deadline := time.Now().Add(30 * time.Second)
	for {
		now := map[string]int{}
		for i := range c.ms {
			leaf, err := c.get(t, i, "r.cluster.test")
			if err != nil {
				t.Fatalf("instance %d: %v", i, err)
			}
			now[leaf.SerialNumber.Text(16)]++
		}
		if len(now) == 1 && now[first] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instances serve %v, want one renewed certificate (first %s)", now, first)
		}
		time.Sleep(200 * time.Millisecond)
	}
	renewed := c.stored("renewed")
	t.Logf("renewal: stored per instance %v, Pebble orders %d", renewed, c.pebble.Orders())
	if sum(renewed) != 1 {
		t.Errorf("renewals stored = %v, want exactly one", renewed)
	}
	if n := c.pebble.Orders(); n != 2 {
		t.Errorf("Pebble orders = %d, want 2 (issue, one renewal)", n)
	}
}
