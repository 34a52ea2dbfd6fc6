package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// Three gatehouse processes, one Redis and Pebble: the issue's "exactly
// one order per domain, all three serve the certificate, challenges
// answered by whichever instance the CA reaches", through the binary.
//
// Pebble reaches one address (challtestsrv resolves every name to
// 127.0.0.1) on one port per challenge type. Instance 0 ("reached") owns
// the port of the challenge type under test; the port of the other type
// is closed, so that no other path to a certificate exists. Instance 2
// ("orderer") gets the first handshake for the first name alone and
// orders it; the handshakes of the other instances for that name, and of
// all three for the second name, run concurrently meanwhile. So instance
// 0 must answer a challenge of an order it did not make, from Redis.

// clusterACMENames are the domains of the test: one ordered by instance 2
// while the others wait, one raced by all three.
var clusterACMENames = []string{"first.cluster.test", "race.cluster.test"}

const clusterACMEPrefix = "gh-acme:"

const clusterACMEConfig = `
server {
  listen       = "127.0.0.1:%d"
  tls_listen   = "127.0.0.1:%d"
  admin_listen = "127.0.0.1:0"
}

tls {
  acme {
    email     = "ops@example.com"
    domains   = ["%s"]
    directory = "%s"
    ca_roots  = "%s"
    cache_dir = "%s"
  }
}

upstream "hr" {
  url    = "http://127.0.0.1:9"
  prefix = "/hr"
}

cluster {
  redis          = "redis://%s"
  username       = "gatehouse"
  password       = env("GATEHOUSE_TEST_REDIS_PASSWORD")
  key_prefix     = "` + clusterACMEPrefix + `"
  encryption_key = env("GATEHOUSE_TEST_CERT_KEY")
}
`

// clusterACME is the running world of one subtest.
type clusterACME struct {
	pebble    *testenv.Pebble
	redis     *testenv.Redis
	ps        [3]*process
	cfgs      [3]string
	cacheDirs [3]string
	dir       string // the ACME directory's key namespace (acme.cacheSubdir)
	port      int    // the port Pebble validates the challenge type under test on
}

// TestClusterACME_OneOrderPerName runs the scenario with each challenge
// type: TLS-ALPN-01 (Pebble's HTTP-01 port closed) and HTTP-01 only
// (Pebble's TLS-ALPN-01 port closed; autocert tries TLS-ALPN-01 first, so
// each name takes two orders of the same instance, as with one instance).
func TestClusterACME_OneOrderPerName(t *testing.T) {
	for _, tc := range []struct {
		name          string
		httpOnly      bool
		ordersPerName int
	}{
		{"tls-alpn-01", false, 1},
		{"http-01", true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) { testClusterACME(t, tc.httpOnly, tc.ordersPerName) })
	}
}

func startClusterACME(t *testing.T, httpOnly bool) *clusterACME {
	t.Helper()
	// Every order gets fresh authorizations, so that each order shows in
	// Pebble's log as one validation task naming its domain.
	t.Setenv("PEBBLE_AUTHZREUSE", "0")
	key := make([]byte, 36)
	_, _ = rand.Read(key)
	t.Setenv("GATEHOUSE_TEST_CERT_KEY", base64.StdEncoding.EncodeToString(key))

	w := &clusterACME{redis: startClusterRedis(t)}
	ports, release := reservePorts(t, 2)
	w.port = ports[0]
	opts := testenv.PebbleOptions{HTTPPort: ports[1], TLSPort: ports[0]} // ports[1]: nothing listens
	if httpOnly {
		opts = testenv.PebbleOptions{HTTPPort: ports[0], TLSPort: ports[1]}
	}
	w.pebble = testenv.StartPebble(t, opts)
	release()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pebble logs:\n%s", w.pebble.Log())
		}
	})
	u, err := url.Parse(w.pebble.DirectoryURL)
	if err != nil {
		t.Fatal(err)
	}
	w.dir = strings.NewReplacer(":", "-", "/", "-").Replace(u.Host + u.Path)

	tmp := t.TempDir()
	for i := range w.ps {
		listen, tlsListen := 0, 0
		if i == 0 {
			if httpOnly {
				listen = w.port
			} else {
				tlsListen = w.port
			}
		}
		w.cacheDirs[i] = filepath.Join(tmp, "cache-"+strconv.Itoa(i))
		w.cfgs[i] = filepath.Join(tmp, "gatehouse-"+strconv.Itoa(i)+".hcl")
		writeFile(t, w.cfgs[i], fmt.Sprintf(clusterACMEConfig, listen, tlsListen,
			strings.Join(clusterACMENames, `", "`), w.pebble.DirectoryURL, w.pebble.APICAFile, w.cacheDirs[i], w.redis.Addr))
	}
	if code, out, errOut := runCmd(t, ".", "validate", "--config", w.cfgs[0]); code != 0 {
		t.Fatalf("validate: exit %d\n%s%s", code, out, errOut)
	}
	for i := range w.ps {
		w.ps[i] = startBinary(t, "run", "--config", w.cfgs[i], "-log-level", "debug")
	}
	t.Cleanup(func() { // whichever processes w.ps holds by then
		for i, p := range w.ps {
			_ = p.stop(t)
			if t.Failed() {
				for _, l := range p.logs() {
					t.Logf("instance %d: %v", i, l)
				}
			}
		}
	})
	if reached := w.ps[0]; httpOnly && reached.public != "127.0.0.1:"+strconv.Itoa(w.port) ||
		!httpOnly && reached.tls != "127.0.0.1:"+strconv.Itoa(w.port) {
		t.Fatalf("instance 0 listens on %s (http) and %s (tls); Pebble validates on port %d", reached.public, reached.tls, w.port)
	}
	return w
}

// handshake dials instance p's TLS listener with SNI name and returns
// the leaf, its chain verified against Pebble's root.
func (w *clusterACME) handshake(p *process, name string) (*x509.Certificate, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{ServerName: name, RootCAs: w.pebble.Roots}}
	c, err := d.DialContext(ctx, "tcp", p.tls)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState().PeerCertificates[0], nil
}

type handshakeResult struct {
	leaf *x509.Certificate
	err  error
	took time.Duration
}

func testClusterACME(t *testing.T, httpOnly bool, ordersPerName int) {
	w := startClusterACME(t, httpOnly)
	first, race := clusterACMENames[0], clusterACMENames[1]

	// results[i][name]: instance i's first handshake for name.
	var mu sync.Mutex
	results := [3]map[string]handshakeResult{{}, {}, {}}
	var wg sync.WaitGroup
	start := time.Now()
	shake := func(i int, name string, gate <-chan struct{}) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			t0 := time.Now()
			leaf, err := w.handshake(w.ps[i], name)
			mu.Lock()
			results[i][name] = handshakeResult{leaf, err, time.Since(t0)}
			mu.Unlock()
		}()
	}
	open := make(chan struct{})
	close(open)
	shake(2, first, open)
	// Instance 2 holds the first name's lock: it orders. Then everything
	// else at once.
	lockKey := clusterACMEPrefix + "lock:" + w.dir + "/" + first
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := w.redis.Do("EXISTS", lockKey)
		mu.Lock()
		done := len(results[2]) > 0
		mu.Unlock()
		if err == nil && fmt.Sprint(n) == "1" || done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance 2 did not take %s within 20s (EXISTS: %v %v)", lockKey, n, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	lockSeen := time.Since(start)
	gate := make(chan struct{})
	shake(0, first, gate)
	shake(1, first, gate)
	for i := range 3 {
		shake(i, race, gate)
	}
	close(gate)
	wg.Wait()
	total := time.Since(start)

	// All three serve one certificate per name, chained to Pebble's root.
	serials := map[string]string{}
	for _, name := range clusterACMENames {
		for i := range 3 {
			r := results[i][name]
			if r.err != nil {
				t.Fatalf("instance %d, first handshake for %s: %v", i, name, r.err)
			}
			if len(r.leaf.DNSNames) != 1 || r.leaf.DNSNames[0] != name {
				t.Errorf("instance %d serves %v for %s", i, r.leaf.DNSNames, name)
			}
			s := hex.EncodeToString(r.leaf.SerialNumber.Bytes())
			if serials[name] == "" {
				serials[name] = s
			} else if s != serials[name] {
				t.Errorf("%s: instance %d serves serial %s, instance 0 %s; want one certificate", name, i, s, serials[name])
			}
		}
		t.Logf("%s: first handshakes took %v / %v / %v (instances 0/1/2)", name,
			results[0][name].took.Round(time.Millisecond), results[1][name].took.Round(time.Millisecond), results[2][name].took.Round(time.Millisecond))
	}
	t.Logf("instance 2 held the lock of %s after %v; all six first handshakes done after %v", first, lockSeen.Round(time.Millisecond), total.Round(time.Millisecond))

	// Pebble's log: the orders, and per name its validation tasks (one
	// per order: authorizations are never reused here) and the
	// certificate issued.
	orders := w.pebble.Orders()
	perName, issued := pebbleOrders(t, w.pebble.Log())
	accounts := len(pebbleAccountRE.FindAllString(w.pebble.Log(), -1))
	t.Logf("pebble: %d orders; per name %v; issued serials %v; %d ACME accounts", orders, perName, issued, accounts)
	if want := ordersPerName * len(clusterACMENames); orders != want {
		t.Errorf("Pebble created %d orders, want %d (%d per name)", orders, want, ordersPerName)
	}
	for _, name := range clusterACMENames {
		if perName[name] != ordersPerName {
			t.Errorf("Pebble validated %s %d times, want %d (one order per name)", name, perName[name], ordersPerName)
		}
		if !issued[serials[name]] {
			t.Errorf("served serial %s of %s is not one Pebble logged as issued (%v)", serials[name], name, issued)
		}
	}
	if len(issued) != len(clusterACMENames) {
		t.Errorf("Pebble issued %d certificates, want %d", len(issued), len(clusterACMENames))
	}

	// Exactly one instance stored each certificate: for the first name,
	// instance 2, which the CA never reaches. (The line is written before
	// the handshake completes, but read from the pipe a little later.)
	for _, name := range clusterACMENames {
		by := w.storedBy(t, name, results)
		t.Logf("%s ordered and stored by instance %v", name, by)
		if len(by) != 1 || name == first && by[0] != 2 {
			t.Errorf("%s stored by instances %v, want exactly one (instance 2 for %s)", name, by, first)
		}
	}

	// The challenges were answered by instance 0, the only one Pebble
	// reaches (the other challenge type has no listener).
	if httpOnly {
		for _, name := range clusterACMENames {
			host := name + ":" + strconv.Itoa(w.port)
			w.ps[0].waitFor(t, "instance 0 answering the HTTP-01 challenge of "+name, func(l map[string]any) bool {
				return l["msg"] == "http-01 challenge request" && l["host"] == host && l["status"] == float64(200)
			})
		}
	}
	for i, p := range w.ps {
		for _, l := range p.logs() {
			if i != 0 && l["msg"] == "http-01 challenge request" {
				t.Errorf("instance %d got a challenge request; only instance 0 is reachable: %v", i, l)
			}
			if l["msg"] == "tls-alpn-01 challenge handshake without a pending challenge" || l["msg"] == "no certificate for a configured domain" {
				t.Errorf("instance %d: %v", i, l)
			}
		}
	}

	// At rest in Redis: encrypted, under the prefix; no lock left over;
	// nothing in the cache directories.
	for _, k := range []string{"acme_account+key", first, race} {
		key := clusterACMEPrefix + "cert:" + w.dir + "/" + k
		v, err := w.redis.Do("GET", key)
		s, _ := v.(string)
		if err != nil || !strings.HasPrefix(s, "gh-aead-1:") || strings.Contains(s, "BEGIN") {
			t.Errorf("GET %s = %.40q (%v), want an encrypted value (gh-aead-1:…)", key, s, err)
		}
	}
	// (KEYS is fine in a test: gatehouse itself never lists keys.) A lock
	// left over would make the other instances wait for it: autocert's
	// read of its legacy account key name once kept one for 10 minutes,
	// and an instance that needed the account meanwhile hung its first
	// handshakes.
	if locks, err := w.redis.Do("KEYS", clusterACMEPrefix+"lock:*"); err != nil || fmt.Sprint(locks) != "[]" {
		t.Errorf("locks still held after issuance: %v %v", locks, err)
	}
	for i, d := range w.cacheDirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("instance %d wrote its cache_dir %s (%v); the certificates live in Redis", i, d, err)
		}
	}

	// A restarted instance loads both certificates from Redis: same
	// serials, no order.
	if err := w.ps[1].stop(t); err != nil {
		t.Fatalf("stop instance 1: %v", err)
	}
	t0 := time.Now()
	w.ps[1] = startBinary(t, "run", "--config", w.cfgs[1]) // stopped by startClusterACME's cleanup
	p := w.ps[1]
	for _, name := range clusterACMENames {
		leaf, err := w.handshake(p, name)
		if err != nil {
			t.Fatalf("restarted instance 1, handshake for %s: %v", name, err)
		}
		if s := hex.EncodeToString(leaf.SerialNumber.Bytes()); s != serials[name] {
			t.Errorf("restarted instance 1 serves %s for %s, want the stored %s", s, name, serials[name])
		}
	}
	t.Logf("restarted instance 1 serving both names from Redis %v after its start", time.Since(t0).Round(time.Millisecond))
	if n := w.pebble.Orders(); n != orders {
		t.Errorf("Pebble orders went from %d to %d after a restart, want no new order", orders, n)
	}
	for _, l := range p.logs() {
		if l["msg"] == "certificate stored" {
			t.Errorf("restarted instance stored a certificate: %v", l)
		}
	}
}

// storedBy waits (bounded) until some instance has logged "certificate
// stored" for name, and returns the instances that did.
func (w *clusterACME) storedBy(t *testing.T, name string, results [3]map[string]handshakeResult) []int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var by []int
		for i, p := range w.ps {
			for _, l := range p.logs() {
				if names, _ := l["names"].([]any); l["msg"] == "certificate stored" && len(names) == 1 && names[0] == name {
					by = append(by, i)
					if l["event"] != "obtained" || l["serial"] != results[i][name].leaf.SerialNumber.Text(16) {
						t.Errorf("instance %d: %v, want event obtained and the served serial", i, l)
					}
				}
			}
		}
		if len(by) > 0 || time.Now().After(deadline) {
			return by
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var (
	pebbleTaskRE    = regexp.MustCompile(`Pulled a task from the Tasks queue: .*Value:"([^"]+)"`)
	pebbleAccountRE = regexp.MustCompile(`There are now \d+ accounts in memory`)
	pebbleIssuedRE  = regexp.MustCompile(`Issued certificate serial ([0-9a-f]+) for order`)
)

// pebbleOrders reads Pebble's log: the validation tasks per name and the
// serials (hex of the serial's bytes) of the certificates issued.
func pebbleOrders(t *testing.T, log string) (tasks map[string]int, issued map[string]bool) {
	t.Helper()
	tasks, issued = map[string]int{}, map[string]bool{}
	for _, m := range pebbleTaskRE.FindAllStringSubmatch(log, -1) {
		tasks[m[1]]++
	}
	for _, m := range pebbleIssuedRE.FindAllStringSubmatch(log, -1) {
		issued[m[1]] = true
	}
	return tasks, issued
}
