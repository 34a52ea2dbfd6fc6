package main

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
	"github.com/gatehouse-dev/gatehouse/proxy/authapi"
)

// The end-to-end tests of issue 20 (cluster mode): two or more gatehouse
// processes (the real binary) on one real Redis.

// Logout and refresh on A are seen on B within 1 s, and a restarted A
// still refuses a logged-out token.
func TestClusterE2E_TwoInstances(t *testing.T) {
	r := startACLRedis(t)
	w := newClusterWorld(t, redisBlock(r), "")
	a, b := w.start(t, "A", 0), w.start(t, "B", 0)

	// The first login, right after the first instance created the
	// revocation epoch (often within the same second): its token works
	// at once on both.
	tok := w.mustLogin(t, a)
	for _, in := range []*instance{a, b} {
		if got := w.session(in, tok); got.status != 200 {
			t.Errorf("token of the first login on %s: %v, want 200", in.name, got)
		}
	}
	// Logout on A: refused on B within 1 s.
	start := time.Now()
	if got := w.call("POST", a.base+"/auth/logout", tok, nil); got.status != 204 {
		t.Fatalf("logout on A: %v", got)
	}
	got, took := w.waitSession(b, tok, 2*time.Second, isRevoked)
	t.Logf("logout on A -> refused on B after %v (%v)", time.Since(start), got)
	if !isRevoked(got) || took > time.Second {
		t.Errorf("after logout on A, B answers %v after %v; want 401 session_revoked within 1s", got, took)
	}

	// Refresh on A: the old token is refused on B, the new one works.
	old, _ := w.mustLoginUsable(t, a, a, b)
	res := w.call("POST", a.base+"/auth/refresh", old, nil)
	next, _ := res.body["session_token"].(string)
	if res.status != 200 || next == "" {
		t.Fatalf("refresh on A: %v %v", res, res.body)
	}
	got, took = w.waitSession(b, old, 2*time.Second, isRevoked)
	t.Logf("refresh on A -> old token refused on B after %v (%v)", took, got)
	if !isRevoked(got) || took > time.Second {
		t.Errorf("refreshed-away token on B: %v after %v; want 401 session_revoked within 1s", got, took)
	}
	if got := w.session(b, next); got.status != 200 {
		t.Errorf("refreshed token on B: %v, want 200", got)
	}
	// The old token cannot be refreshed again, on either instance.
	for _, in := range []*instance{a, b} {
		if got := w.call("POST", in.base+"/auth/refresh", old, nil); got.status != 401 {
			t.Errorf("second refresh of the old token on %s: %v, want 401", in.name, got)
		}
	}

	// Restart A: the logged-out token and the refreshed-away one stay
	// refused; the live one still works.
	a.restart(t)
	for _, c := range []struct {
		tok  string
		want func(reply) bool
		what string
	}{{tok, isRevoked, "logged-out token"}, {old, isRevoked, "refreshed-away token"}, {next, func(r reply) bool { return r.status == 200 }, "live token"}} {
		if got := w.session(a, c.tok); !c.want(got) {
			t.Errorf("restarted A, %s: %v", c.what, got)
		}
	}
	noPanic(t, a, b)
}

// Revocation propagation across two instances, through the binaries: the
// bar of the issue is p99 < 1 s.
func TestClusterE2E_RevocationPropagation(t *testing.T) {
	r := startACLRedis(t)
	w := newClusterWorld(t, redisBlock(r), "")
	a, b := w.start(t, "A", 0), w.start(t, "B", 0)
	w.mustLoginUsable(t, a, a, b)

	const n = 120
	var sinceLogout, sinceAck []time.Duration
	for i := range n {
		tok := w.mustLogin(t, a)
		if got := w.session(b, tok); got.status != 200 {
			t.Fatalf("round %d: new token on B: %v", i, got)
		}
		start := time.Now()
		if got := w.call("POST", a.base+"/auth/logout", tok, nil); got.status != 204 {
			t.Fatalf("round %d: logout on A: %v", i, got)
		}
		acked := time.Now()
		var last reply
		for {
			last = w.session(b, tok)
			if last.status != 200 || time.Since(start) > 3*time.Second {
				break
			}
		}
		if !isRevoked(last) {
			t.Fatalf("round %d: B answers %v %v after the logout", i, last, time.Since(start))
		}
		sinceLogout = append(sinceLogout, time.Since(start))
		sinceAck = append(sinceAck, time.Since(acked))
	}
	t.Logf("revocation propagation A->B, logout sent until B refuses: %s", summarize(sinceLogout))
	t.Logf("revocation propagation A->B, logout answered until B refuses: %s", summarize(sinceAck))
	sorted := append([]time.Duration(nil), sinceLogout...)
	slices.Sort(sorted)
	if p99 := percentile(sorted, 0.99); p99 >= time.Second {
		t.Errorf("propagation p99 = %v, want < 1s", p99)
	}
}

// Redis restarted empty: no revoked token is accepted anywhere at any
// point; tokens issued before the restart are refused (the epoch); a login
// afterwards works on both instances.
func TestClusterE2E_RedisRestartedEmpty(t *testing.T) {
	r := startACLRedis(t)
	w := newClusterWorld(t, redisBlock(r), "")
	a, b := w.start(t, "A", 0), w.start(t, "B", 0)
	live, _ := w.mustLoginUsable(t, a, a, b)
	revoked, _ := w.mustLoginUsable(t, b, a, b)
	if got := w.call("POST", b.base+"/auth/logout", revoked, nil); got.status != 204 {
		t.Fatalf("logout on B: %v", got)
	}
	for _, in := range []*instance{a, b} {
		if got, _ := w.waitSession(in, revoked, 2*time.Second, isRevoked); !isRevoked(got) {
			t.Fatalf("logged-out token on %s: %v", in.name, got)
		}
	}

	// Watch the revoked token on both instances through the restart.
	stop := make(chan struct{})
	var watched atomic.Int64
	var mu sync.Mutex
	var accepted []string
	var wg sync.WaitGroup
	for _, in := range []*instance{a, b} {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				got := w.session(in, revoked)
				watched.Add(1)
				if got.err == nil && got.status != 401 && got.status != 503 {
					mu.Lock()
					accepted = append(accepted, in.name+": "+got.String())
					mu.Unlock()
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	restarted := time.Now()
	r.Restart(t)
	// Both instances adopt the new epoch: the live token, issued before
	// it, is refused everywhere.
	for _, in := range []*instance{a, b} {
		got, took := w.waitSession(in, live, 10*time.Second, isRevoked)
		t.Logf("Redis restarted empty: token issued before refused on %s %v after the restart (%v)", in.name, time.Since(restarted), got)
		if !isRevoked(got) {
			t.Errorf("token issued before the restart on %s: %v after %v; want 401 session_revoked", in.name, got, took)
		}
	}
	// A new login works on both.
	tok, logins := w.mustLoginUsable(t, a, a, b)
	t.Logf("first usable login after the restart: %d login(s), %v after the restart", logins, time.Since(restarted))
	if got := w.session(b, tok); got.status != 200 {
		t.Errorf("new token on B: %v", got)
	}
	close(stop)
	wg.Wait()
	t.Logf("revoked token polled %d times across the restart", watched.Load())
	for _, s := range accepted {
		t.Errorf("revoked token accepted during the restart: %s", s)
	}
	noPanic(t, a, b)
}

// An OIDC login begun on A completes on B, and its callback cannot be
// replayed on either instance.
func TestClusterE2E_OIDCAcrossInstances(t *testing.T) {
	r := startACLRedis(t)
	portB := freePort(t)
	callback := fmt.Sprintf("http://127.0.0.1:%d/auth/oauth/sso/callback", portB)
	idp := testidp.New(t, testidp.RedirectURIs(callback))
	w := newClusterWorld(t, redisBlock(r), fmt.Sprintf(`
oauth "sso" {
  provider      = "oidc"
  issuer        = %q
  client_id     = %q
  client_secret = %q
  redirect_url  = %q
  app           = "portal"
}
`, idp.Issuer(), idp.ClientID(), idp.ClientSecret(), callback))
	a, b := w.start(t, "A", 0), w.start(t, "B", portB)

	// A browser that stops when it is sent to the callback.
	jar, _ := cookiejar.New(nil)
	var callbackURL string
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) > 5 {
			return fmt.Errorf("too many redirects")
		}
		if req.URL.Path == "/auth/oauth/sso/callback" {
			callbackURL = req.URL.String()
			return http.ErrUseLastResponse
		}
		return nil
	}}
	res, err := browser.Get(a.base + "/auth/oauth/sso/login?next=/hr/employees")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if !strings.HasPrefix(callbackURL, b.base+"/") {
		t.Fatalf("the IdP sent the browser to %q, want B's callback (%s)", callbackURL, b.base)
	}
	u, _ := url.Parse(callbackURL)
	cookies := jar.Cookies(u) // the binding cookie A set, for the replays

	// The callback on B logs in.
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err = browser.Get(callbackURL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/hr/employees" {
		t.Fatalf("callback on B: %d Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	var token string
	for _, c := range res.Cookies() {
		if c.Name == "gatehouse_session" {
			token = c.Value
		}
	}
	if token == "" {
		t.Fatal("no session cookie from the callback on B")
	}
	for _, in := range []*instance{a, b} {
		got := w.call("GET", in.base+"/auth/session", token, nil)
		if got.status != 200 || got.body["user"] != "alice" || got.body["provider"] != "sso" {
			t.Errorf("session on %s after the OIDC login: %v %v", in.name, got, got.body)
		}
	}

	// The same callback, with the same binding cookie, replayed on A and
	// on B: refused (the state was used).
	for _, in := range []*instance{a, b, a} {
		replay := strings.Replace(callbackURL, b.base, in.base, 1)
		req, _ := http.NewRequest("GET", replay, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		res, err := (&http.Client{Timeout: 10 * time.Second, CheckRedirect: browser.CheckRedirect}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(res)
		if res.StatusCode != 400 || !strings.Contains(body, `"oauth_bad_state"`) {
			t.Errorf("callback replayed on %s: %d %s, want 400 oauth_bad_state", in.name, res.StatusCode, body)
		}
	}
	if n := idp.TokenRequests(); n != 1 {
		t.Errorf("the IdP's token endpoint was called %d times, want 1 (replays refused before it)", n)
	}
	noPanic(t, a, b)
}

// Failed logins on A and B spend one budget: FailBurst failures in all,
// not FailBurst per instance.
func TestClusterE2E_SharedLoginBudget(t *testing.T) {
	r := startACLRedis(t)
	w := newClusterWorld(t, redisBlock(r), "")
	a, b := w.start(t, "A", 0), w.start(t, "B", 0)
	start := time.Now()
	failures, perInstance := 0, map[string]int{}
	for i := 0; ; i++ {
		in := []*instance{a, b}[i%2]
		got, _ := w.login(in, "wrong-password")
		if got.status == 429 {
			if got.reason != "login_rate_limited" {
				t.Errorf("429 with reason %q", got.reason)
			}
			t.Logf("failed logins alternating A/B: %d accepted as failures (A %d, B %d), then 429 on %s after %v",
				failures, perInstance["A"], perInstance["B"], in.name, time.Since(start))
			break
		}
		if got.status != 401 {
			t.Fatalf("failed login %d on %s: %v", i, in.name, got)
		}
		failures++
		perInstance[in.name]++
		if failures > 3*authapi.FailBurst {
			t.Fatalf("no 429 after %d failures", failures)
		}
	}
	// The budget refills one unit every FailEvery: count that in only if
	// the loop took that long.
	allowed := authapi.FailBurst + int(time.Since(start)/authapi.FailEvery)
	if failures < authapi.FailBurst || failures > allowed {
		t.Errorf("%d failures before 429, want %d (the single-instance budget), not %d", failures, authapi.FailBurst, 2*authapi.FailBurst)
	}
	// Both instances refuse now, even the right password.
	for _, in := range []*instance{a, b} {
		if got, _ := w.login(in, clusterPassword); got.status != 429 {
			t.Errorf("login on %s after the budget is spent: %v, want 429", in.name, got)
		}
	}
	noPanic(t, a, b)
}

// Redis killed under load, then restarted (empty): API-key requests never
// fail; session requests keep working from the local view until the
// staleness bound, then 503; logout during the outage is 503; after the
// restart both instances recover without a restart of their own, and the
// connections to Redis stay bounded.
func TestClusterE2E_RedisKilledUnderLoad(t *testing.T) {
	t.Setenv("GATEHOUSE_PPROF", "1") // goroutine counts from the admin listener
	r := startACLRedis(t)
	w := newClusterWorld(t, redisBlock(r), "")
	a, b := w.start(t, "A", 0), w.start(t, "B", 0)
	tok, _ := w.mustLoginUsable(t, a, a, b)
	outageTok, _ := w.mustLoginUsable(t, b, a, b)
	before := map[string]int{"A": w.goroutines(t, a), "B": w.goroutines(t, b)}

	type sample struct {
		at   time.Time
		inst string
		kind string // "key" or "session"
		rep  reply
	}
	var mu sync.Mutex
	var samples []sample
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, in := range []*instance{a, b} {
		for _, kind := range []string{"key", "session"} {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					var got reply
					if kind == "key" {
						got = w.call("GET", in.base+"/hr/public", "", nil)
					} else {
						got = w.session(in, tok)
					}
					mu.Lock()
					samples = append(samples, sample{time.Now(), in.name, kind, got})
					mu.Unlock()
					time.Sleep(10 * time.Millisecond)
				}
			})
		}
	}
	time.Sleep(500 * time.Millisecond) // load before the outage
	killed := time.Now()
	if err := r.Kill(); err != nil {
		t.Fatal(err)
	}
	// Logout during the outage: never 204.
	time.Sleep(200 * time.Millisecond)
	if got := w.call("POST", a.base+"/auth/logout", outageTok, nil); got.status != 503 || got.reason != "store_unavailable" {
		t.Errorf("logout on A with Redis down: %v, want 503 store_unavailable", got)
	}
	// Wait until both instances refuse sessions with 503 (staleness).
	stale := map[string]time.Duration{}
	for _, in := range []*instance{a, b} {
		got, _ := w.waitSession(in, tok, 10*time.Second, func(r reply) bool { return r.status == 503 })
		stale[in.name] = time.Since(killed)
		if got.status != 503 || got.reason != "store_unavailable" {
			t.Errorf("session on %s with Redis down for %v: %v, want 503 store_unavailable", in.name, time.Since(killed), got)
		}
	}
	t.Logf("Redis killed: sessions refused with 503 after A %v, B %v (staleness bound 5s)", stale["A"], stale["B"])
	if got := w.call("POST", b.base+"/auth/logout", outageTok, nil); got.status != 503 {
		t.Errorf("logout on B with Redis down and stale: %v, want 503", got)
	}
	time.Sleep(time.Second) // both refuse sessions for a while under load

	restarted := time.Now()
	r.Restart(t)
	// Back, but empty: the old session is refused by the new epoch; a
	// new login works on both, without restarting gatehouse.
	for _, in := range []*instance{a, b} {
		got, _ := w.waitSession(in, tok, 15*time.Second, isRevoked)
		t.Logf("Redis restarted: %s answers %v for the old session %v after the restart", in.name, got, time.Since(restarted))
		if !isRevoked(got) {
			t.Errorf("old session on %s after the restart: %v, want 401 session_revoked", in.name, got)
		}
	}
	fresh, logins := w.mustLoginUsable(t, b, a, b)
	t.Logf("Redis restarted: first usable login after %v (%d login(s))", time.Since(restarted), logins)
	if got := w.call("POST", a.base+"/auth/logout", fresh, nil); got.status != 204 {
		t.Errorf("logout after recovery: %v, want 204", got)
	}
	if got, _ := w.waitSession(b, fresh, 2*time.Second, isRevoked); !isRevoked(got) {
		t.Errorf("logged-out token on B after recovery: %v", got)
	}
	time.Sleep(300 * time.Millisecond) // load after recovery
	close(stop)
	wg.Wait()

	// What the load saw.
	counts := map[string]map[string]int{}
	var firstStale = map[string]time.Duration{}
	for _, s := range samples {
		k := s.inst + " " + s.kind
		if counts[k] == nil {
			counts[k] = map[string]int{}
		}
		counts[k][s.rep.String()]++
		d := s.at.Sub(killed) // when the answer came
		switch {
		case s.kind == "key":
			if s.rep.status != 200 {
				t.Errorf("API-key request on %s at kill%+v: %v, want 200", s.inst, d, s.rep)
			}
		case d < 0:
			if s.rep.status != 200 {
				t.Errorf("session request on %s before the kill: %v", s.inst, s.rep)
			}
		default:
			// The view is trusted for StaleAfter (5 s) after the reader
			// last heard from Redis (about 1 s before the kill at most,
			// more on a loaded machine): 503 before 3 s would be too
			// early, 200 after 6.5 s too late.
			// After the restart, the old session is refused for good
			// (401 session_revoked: the new epoch).
			ok := s.rep.status == 200 && d < 6500*time.Millisecond ||
				s.rep.status == 503 && s.rep.reason == "store_unavailable" && d > 3*time.Second ||
				isRevoked(s.rep) && s.at.After(restarted)
			if !ok {
				t.Errorf("session request on %s at kill%+v: %v", s.inst, d, s.rep)
			}
			if _, seen := firstStale[s.inst]; s.rep.status == 503 && !seen {
				firstStale[s.inst] = d
			}
		}
	}
	t.Logf("load: %v; first 503 on a session request after the kill: %v", counts, firstStale)

	// No connection leak: Redis lists at most 2 × the pool (16) per
	// instance.
	n, list := redisClients(t, r)
	t.Logf("Redis connections after recovery: %d", n)
	if n > 2*16*2 {
		t.Errorf("%d connections to Redis from 2 instances, want <= 64:\n%s", n, list)
	}
	// No goroutine leak: back to the count before the outage (a few more
	// allowed: connections being closed, timers).
	for _, in := range []*instance{a, b} {
		var n int
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if n = w.goroutines(t, in); n <= before[in.name]+5 || time.Now().After(deadline) {
				break
			}
		}
		t.Logf("%s goroutines: %d before the outage, %d after recovery", in.name, before[in.name], n)
		if n > before[in.name]+5 {
			t.Errorf("%s: %d goroutines after recovery, %d before the outage", in.name, n, before[in.name])
		}
	}
	noPanic(t, a, b)
}

// Sentinel: the instances follow a failover; a logout after it is stored
// and seen by the other instance; new logins work.
func TestClusterE2E_SentinelFailover(t *testing.T) {
	master := testenv.StartRedis(t, testenv.RedisOptions{})
	replica := testenv.StartRedis(t, testenv.RedisOptions{ReplicaOf: master})
	// The replica has synchronised before anything else happens.
	for deadline := time.Now().Add(10 * time.Second); ; {
		v, err := replica.Do("INFO", "replication")
		if err == nil && strings.Contains(fmt.Sprint(v), "master_link_status:up") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica did not sync within 10s: %v %v", v, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s := testenv.StartSentinels(t, master, 3)
	addrs := make([]string, len(s.Addrs))
	for i, a := range s.Addrs {
		addrs[i] = fmt.Sprintf("%q", a)
	}
	w := newClusterWorld(t, fmt.Sprintf("  sentinel_master = %q\n  sentinel_addrs  = [%s]\n", s.Master, strings.Join(addrs, ", ")), "")
	a, b := w.start(t, "A", 0), w.start(t, "B", 0)
	tok, _ := w.mustLoginUsable(t, a, a, b)
	// The replica has what the master has (the epoch) before the master
	// dies.
	if v, err := master.Do("WAIT", 1, 2000); err != nil || v != int64(1) {
		t.Fatalf("WAIT for the replica: %v %v", v, err)
	}
	if err := master.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	// Logout on A while the failover happens, retried: 503 while the
	// revocation cannot be stored, then 204 once A reaches the new master.
	// A retry after a 503 may instead be 401 session_revoked: the failed
	// attempt revoked the token on A at once, and A's reader stores the
	// revocation once Redis answers. Either way B must refuse the token
	// after the failover.
	var codes []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := w.call("POST", a.base+"/auth/logout", tok, nil)
		codes = append(codes, got.String())
		if got.status == 204 || len(codes) > 1 && isRevoked(got) {
			break
		}
		if got.status != 503 || time.Now().After(deadline) {
			t.Fatalf("logout on A during the failover: %v (answers so far %s)", got, runs(codes))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("logout on A during the failover: %s, the last %v after the kill", runs(codes), time.Since(killed))
	newMaster, err := s.WaitForFailover(master.Addr, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if newMaster != replica.Addr {
		t.Fatalf("new master %s, want the replica %s", newMaster, replica.Addr)
	}
	t.Logf("sentinels promoted %s %v after the kill", newMaster, time.Since(killed))
	got, took := w.waitSession(b, tok, 20*time.Second, isRevoked)
	t.Logf("logged-out token refused on B %v after the kill (%v)", time.Since(killed), got)
	if !isRevoked(got) {
		t.Errorf("logged-out token on B after the failover: %v after %v more", got, took)
	}
	fresh, _ := w.mustLoginUsable(t, b, a, b)
	if got := w.call("POST", b.base+"/auth/logout", fresh, nil); got.status != 204 {
		t.Errorf("logout on B after the failover: %v", got)
	}
	if got, _ := w.waitSession(a, fresh, 2*time.Second, isRevoked); !isRevoked(got) {
		t.Errorf("logged-out token on A: %v", got)
	}
	noPanic(t, a, b)
}
