package main

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rateLimitConfig: two apps with their own rate limits in front of one
// upstream, two instances sharing the cluster's Redis; %[1]s is the
// upstream's URL, %[2]s and %[3]s the apps' key hashes, %[4]s the cluster
// block's connection settings.
const rateLimitConfig = `
server {
  listen       = "127.0.0.1:0"
  admin_listen = "127.0.0.1:0"
  production   = false
}

upstream "api" {
  url    = %[1]q
  prefix = "/api"
}

app "alpha" {
  api_key_sha256 = %[2]q
  default_role   = "guest"
  rate_limit {
    requests = 10
    period   = "1s"
    burst    = 5
  }
}

app "beta" {
  api_key_sha256 = %[3]q
  default_role   = "guest"
  rate_limit {
    requests = 1
    period   = "2s"
    burst    = 3
  }
}

role "guest" {
  allow "api" {
    paths = ["/**"]
    verbs = ["GET"]
  }
}

cluster {
%[4]s
  key_prefix   = "gh-rl:"
  dial_timeout = "300ms"
  read_timeout = "300ms"
}
`

// rateApp is one app of the test, its limit and what its burst got.
type rateApp struct {
	name, key, path string
	burst           int
	every           time.Duration // period / requests
	policy          string

	allowed, refused, upstream atomic.Int64
	badRetry                   atomic.Value // string: the first 429 whose fields disagree
	mu                         sync.Mutex
	firstEnd, lastStart        time.Time
	start, end                 time.Time
}

// The bar of rate limits: bursts of concurrent requests from two apps,
// split over two gatehouse processes sharing one Redis. For each app (one
// key: app + client address, all from 127.0.0.1), the allowed count is
// within burst + rate × elapsed (± 1), over both instances together; every
// 429 carries Retry-After within the limit's interval (rounded up to
// seconds) and equal to the RateLimit field's t; a request sent Retry-After
// seconds after a 429 is allowed. Then Redis dies: rate limits fail open
// (the default) with one warning line, not one per request.
func TestRateLimit_TwoInstancesTwoApps(t *testing.T) {
	r := startACLRedis(t)
	apps := []*rateApp{
		{name: "alpha", key: "rl-e2e-alpha-key", path: "/api/alpha", burst: 5, every: 100 * time.Millisecond, policy: `"app";q=10;w=1`},
		{name: "beta", key: "rl-e2e-beta-key", path: "/api/beta", burst: 3, every: 2 * time.Second, policy: `"app";q=1;w=2`},
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		for _, a := range apps {
			if req.URL.Path == strings.TrimPrefix(a.path, "/api") {
				a.upstream.Add(1)
			}
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	cfg := fmt.Sprintf(rateLimitConfig, up.URL, hashKey(apps[0].key), hashKey(apps[1].key), redisBlock(r))
	var ins []*process
	for range 2 {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "redis.pass"), clusterRedisPassw)
		ins = append(ins, startWithConfig(t, dir, cfg))
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	get := func(p *process, a *rateApp) (*http.Response, error) {
		req, _ := http.NewRequest("GET", "http://"+p.public+a.path, nil)
		req.Header.Set("X-API-Key", a.key)
		res, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		return res, err
	}

	// The burst: 8 workers per app, alternating instances, for 2 seconds.
	const workers, load = 8, 2 * time.Second
	var wg sync.WaitGroup
	stop := time.Now().Add(load)
	for _, a := range apps {
		for w := range workers {
			wg.Go(func() {
				for i := 0; time.Now().Before(stop); i++ {
					sent := time.Now()
					res, err := get(ins[(w+i)%2], a)
					done := time.Now()
					if err != nil {
						t.Error(err)
						return
					}
					a.mu.Lock()
					if a.start.IsZero() || sent.Before(a.start) {
						a.start = sent
					}
					if done.After(a.end) {
						a.end = done
					}
					if a.firstEnd.IsZero() || done.Before(a.firstEnd) {
						a.firstEnd = done
					}
					if sent.After(a.lastStart) {
						a.lastStart = sent
					}
					a.mu.Unlock()
					switch res.StatusCode {
					case 200:
						a.allowed.Add(1)
					case 429:
						a.refused.Add(1)
						if why := checkRetry(res, a); why != "" {
							a.badRetry.CompareAndSwap(nil, why)
						}
					default:
						t.Errorf("%s: status %d", a.name, res.StatusCode)
					}
					if got := res.Header.Get("RateLimit-Policy"); got != a.policy {
						t.Errorf("%s: RateLimit-Policy %q, want %q", a.name, got, a.policy)
					}
				}
			})
		}
	}
	wg.Wait()
	for _, a := range apps {
		rate := float64(time.Second) / float64(a.every)
		outer := a.end.Sub(a.start).Seconds()
		inner := a.lastStart.Sub(a.firstEnd).Seconds()
		hi := float64(a.burst) + rate*outer + 1
		lo := float64(a.burst) + math.Floor(rate*inner) - 1
		n := a.allowed.Load()
		t.Logf("%s: %d allowed, %d refused in %.3fs (burst %d + %.1f/s: from %.1f to %.1f)", a.name, n, a.refused.Load(), outer, a.burst, rate, lo, hi)
		if float64(n) > hi || float64(n) < lo {
			t.Errorf("%s: %d allowed, want from %.1f to %.1f", a.name, n, lo, hi)
		}
		if a.refused.Load() == 0 {
			t.Errorf("%s: nothing refused: the burst did not reach the limit", a.name)
		}
		if got := a.upstream.Load(); got != n {
			t.Errorf("%s: the upstream got %d requests, %d were allowed", a.name, got, n)
		}
		if why := a.badRetry.Load(); why != nil {
			t.Errorf("%s: %s", a.name, why)
		}
	}

	// Every 429 is counted in the metrics of the instance that sent it.
	var refused, counted float64
	for _, a := range apps {
		refused += float64(a.refused.Load())
	}
	for _, p := range ins {
		v, _ := sample(scrape(t, p.admin), `gatehouse_rate_limit_refusals_total{limit="app"}`)
		counted += v
	}
	if counted != refused {
		t.Errorf("gatehouse_rate_limit_refusals_total{limit=\"app\"} adds up to %v over both instances; the clients got %v 429s", counted, refused)
	}

	// Retry-After is right: after a 429 on one instance, waiting that
	// long is enough on the other.
	beta := apps[1]
	var retry int
	for i := 0; ; i++ {
		res, err := get(ins[0], beta)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode == 429 {
			retry, _ = strconv.Atoi(res.Header.Get("Retry-After"))
			break
		}
		if i > beta.burst+1 {
			t.Fatal("beta: no 429 after more than its burst")
		}
	}
	time.Sleep(time.Duration(retry) * time.Second) // the value under test, not synchronization
	if res, err := get(ins[1], beta); err != nil || res.StatusCode != 200 {
		t.Errorf("beta, %ds after a 429 with Retry-After %d: %v %v", retry, retry, res.StatusCode, err)
	}

	// Redis dies: requests go on (rate_limits_on_error = "open" by
	// default), far beyond the limit, and one warning says so.
	if err := r.Kill(); err != nil {
		t.Fatal(err)
	}
	for i := range beta.burst + 2 {
		if res, err := get(ins[0], beta); err != nil || res.StatusCode != 200 {
			t.Fatalf("beta request %d with Redis down: %v %v", i, res.StatusCode, err)
		}
	}
	n := 0
	for _, l := range ins[0].logs() {
		if strings.HasPrefix(fmt.Sprint(l["msg"]), "rate limits unavailable") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d 'rate limits unavailable' lines for %d requests, want 1", n, beta.burst+2)
	}
	if v, _ := sample(scrape(t, ins[0].admin), `gatehouse_rate_limit_store_errors_total{outcome="allowed"}`); v != float64(beta.burst+2) {
		t.Errorf(`gatehouse_rate_limit_store_errors_total{outcome="allowed"} = %v, want %d (the requests let through while Redis was down)`, v, beta.burst+2)
	}
}

// checkRetry says what is wrong with a 429's Retry-After and RateLimit
// fields for a's limit, or "".
func checkRetry(res *http.Response, a *rateApp) string {
	ra, err := strconv.Atoi(res.Header.Get("Retry-After"))
	maxRetry := int((a.every + time.Second - 1) / time.Second)
	if err != nil || ra < 1 || ra > maxRetry {
		return fmt.Sprintf("429 with Retry-After %q, want 1..%d", res.Header.Get("Retry-After"), maxRetry)
	}
	if want := fmt.Sprintf(`"app";r=0;t=%d`, ra); res.Header.Get("RateLimit") != want {
		return fmt.Sprintf("429 with RateLimit %q, want %q", res.Header.Get("RateLimit"), want)
	}
	return ""
}
