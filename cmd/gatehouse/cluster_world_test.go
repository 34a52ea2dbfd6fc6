package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// The helpers of the cluster end-to-end tests (cluster_instances_e2e_test.go):
// several gatehouse processes (the real binary) with the same configuration
// but their own ports, sharing one Redis.

// clusterInstanceConfig is the configuration every instance of a test
// shares; %[1]d is the instance's own public port, the only difference.
const clusterInstanceConfig = `
server {
  listen       = "127.0.0.1:%[1]d"
  admin_listen = "127.0.0.1:0"
  production   = false # refusals name their reason
}

sessions {
  signing_key = "cluster-e2e-signing-key-0123456789abcdef-0123"
  ttl         = "10m"
  refresh_ttl = "1h"
}

upstream "hr" {
  url    = %[2]q
  prefix = "/hr"
}

app "portal" {
  api_key_sha256 = %[3]q
  default_role   = "guest"
}

role "guest" {
  allow "hr" {
    paths = ["/public"]
    verbs = ["GET"]
  }
}

role "hr_reader" {
  allow "hr" {
    paths = ["/employees", "/employees/*"]
    verbs = ["GET"]
  }
}

user "alice" {
  %[4]s
  email = "alice@example.test"
  roles = { portal = "hr_reader" }
}

cluster {
%[5]s
  key_prefix   = "gh-e2e:"
  dial_timeout = "500ms"
  read_timeout = "1s"
}

%[6]s
`

const (
	clusterAPIKey     = "cluster-e2e-portal-key"
	clusterPassword   = "alice-cluster-pw"
	clusterRedisUser  = "gatehouse"
	clusterRedisPassw = "cluster-e2e-redis-secret"
)

// clusterHashes caches the password hash of alice: hash-password once per
// test binary (small argon2id parameters keep the race-built binary fast).
var clusterHashes = struct {
	sync.Mutex
	line string
}{}

func alicePasswordHash(t *testing.T) string {
	t.Helper()
	clusterHashes.Lock()
	defer clusterHashes.Unlock()
	if clusterHashes.line == "" {
		out := strings.TrimSpace(runCmdStdin(t, clusterPassword+"\n", "hash-password", "-memory", "1024", "-time", "1", "-threads", "1"))
		if !strings.HasPrefix(out, `password_hash = "$argon2id$`) {
			t.Fatalf("hash-password printed %q", out)
		}
		clusterHashes.line = out
	}
	return clusterHashes.line
}

// startACLRedis starts a Redis with gatehouse's ACL user (the default user
// off, as a hardened Redis runs).
func startACLRedis(t *testing.T) *testenv.Redis {
	t.Helper()
	return testenv.StartRedis(t, testenv.RedisOptions{User: clusterRedisUser, UserPassword: clusterRedisPassw})
}

// redisBlock is the connection part of a cluster block for r: the ACL
// user, the password read with file() from next to the .hcl file.
func redisBlock(r *testenv.Redis) string {
	return fmt.Sprintf("  redis    = \"redis://%s\"\n  username = %q\n  password = file(\"redis.pass\")\n", r.Addr, clusterRedisUser)
}

// clusterWorld is a recording upstream and the configuration of the
// instances in front of it.
type clusterWorld struct {
	upstream *httptest.Server
	block    string // the cluster block's connection settings
	extra    string // more configuration blocks
	client   *http.Client
}

func newClusterWorld(t *testing.T, block, extra string) *clusterWorld {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(rw, "ok")
	}))
	t.Cleanup(up.Close)
	return &clusterWorld{
		upstream: up, block: block, extra: extra,
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
	}
}

// instance is one gatehouse process of a cluster.
type instance struct {
	name string
	port int
	cfg  string // path of its .hcl
	p    *process
	base string
}

// start starts an instance on port (0: a free one).
func (w *clusterWorld) start(t *testing.T, name string, port int) *instance {
	t.Helper()
	if port == 0 {
		port = freePort(t)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "redis.pass"), clusterRedisPassw)
	in := &instance{name: name, port: port, cfg: filepath.Join(dir, "gatehouse.hcl")}
	writeFile(t, in.cfg, fmt.Sprintf(clusterInstanceConfig, port, w.upstream.URL, hashKey(clusterAPIKey), alicePasswordHash(t), w.block, w.extra))
	in.run(t)
	return in
}

func (in *instance) run(t *testing.T) {
	t.Helper()
	in.p = startBinary(t, "run", "--config", in.cfg)
	in.base = "http://" + in.p.public
	p := in.p
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.stop(t)
		}
	})
}

// restart stops the instance (SIGTERM) and starts it again on the same
// configuration.
func (in *instance) restart(t *testing.T) {
	t.Helper()
	if err := in.p.stop(t); err != nil {
		t.Errorf("%s exit: %v", in.name, err)
	}
	in.run(t)
}

// reply is what a test looks at in a response.
type reply struct {
	status int
	reason string
	body   map[string]any
	err    error // transport error
}

func (r reply) String() string {
	if r.err != nil {
		return "error " + r.err.Error()
	}
	return fmt.Sprintf("%d %s", r.status, r.reason)
}

// call sends a request with the app key and, if token is set, the bearer
// token. A transport error is returned in reply.err, not fatal: the load
// loops run outside the test goroutine.
func (w *clusterWorld) call(method, url, token string, body any) reply {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return reply{err: err}
	}
	req.Header.Set("X-API-Key", clusterAPIKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := w.client.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	m := map[string]any{}
	_ = json.Unmarshal(b, &m)
	reason, _ := m["reason"].(string)
	return reply{status: res.StatusCode, reason: reason, body: m}
}

// login logs alice in on in with pw.
func (w *clusterWorld) login(in *instance, pw string) (reply, string) {
	r := w.call("POST", in.base+"/auth/login", "", map[string]string{"username": "alice", "password": pw})
	tok, _ := r.body["session_token"].(string)
	return r, tok
}

// mustLogin logs alice in on in and fails the test unless it works.
func (w *clusterWorld) mustLogin(t *testing.T, in *instance) string {
	t.Helper()
	r, tok := w.login(in, clusterPassword)
	if r.status != 200 || tok == "" {
		t.Fatalf("login on %s: %v %v", in.name, r, r.body)
	}
	return tok
}

// session is a session request: a path only hr_reader may read.
func (w *clusterWorld) session(in *instance, token string) reply {
	return w.call("GET", in.base+"/hr/employees", token, nil)
}

// waitSession polls the session request on in until done accepts the
// reply or the deadline passes; it returns the last reply and how long
// it took.
func (w *clusterWorld) waitSession(in *instance, token string, within time.Duration, done func(reply) bool) (reply, time.Duration) {
	start := time.Now()
	for {
		r := w.session(in, token)
		if done(r) || time.Since(start) > within {
			return r, time.Since(start)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func isRevoked(r reply) bool { return r.status == 401 && r.reason == "session_revoked" }

// mustLoginUsable logs in on in until the new token is accepted on every
// instance of all, within a deadline, and returns the token and how many
// logins it took. A token refused right after its login is reported by
// the caller (see TestClusterE2E_LoginRightAfterEpoch).
func (w *clusterWorld) mustLoginUsable(t *testing.T, in *instance, all ...*instance) (string, int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for n := 1; ; n++ {
		r, tok := w.login(in, clusterPassword)
		if r.status == 200 {
			ok := true
			for _, o := range all {
				if got := w.session(o, tok); got.status != 200 {
					ok = false
					t.Logf("login %d on %s: token refused on %s: %v", n, in.name, o.name, got)
					break
				}
			}
			if ok {
				return tok, n
			}
		} else {
			t.Logf("login %d on %s: %v", n, in.name, r)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no usable login on %s within 15s", in.name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// noPanic fails the test if an instance logged a panic.
func noPanic(t *testing.T, ins ...*instance) {
	t.Helper()
	for _, in := range ins {
		for _, l := range in.p.logs() {
			b, _ := json.Marshal(l)
			if s := string(b); strings.Contains(s, "panic") || strings.Contains(s, "goroutine ") {
				t.Errorf("%s logged a panic: %s", in.name, s)
			}
		}
	}
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func summarize(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("n=%d p50=%v p99=%v max=%v", len(s), percentile(s, 0.50), percentile(s, 0.99), s[len(s)-1])
}

// redisClients counts the connections Redis lists (CLIENT LIST), minus
// the probe's own.
func redisClients(t *testing.T, r *testenv.Redis) (int, string) {
	t.Helper()
	v, err := r.Do("CLIENT", "LIST")
	if err != nil {
		t.Fatalf("CLIENT LIST: %v", err)
	}
	s := fmt.Sprint(v)
	n := strings.Count(strings.TrimSpace(s), "\n") + 1
	return n - 1, s
}

// readBody reads and closes a response body.
func readBody(res *http.Response) string {
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// runs writes a list of answers with repeats counted: "503 x (31), 204".
func runs(xs []string) string {
	var b strings.Builder
	for i := 0; i < len(xs); {
		j := i
		for j < len(xs) && xs[j] == xs[i] {
			j++
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(xs[i])
		if j-i > 1 {
			fmt.Fprintf(&b, " (%d)", j-i)
		}
		i = j
	}
	return b.String()
}

// goroutines reads the instance's goroutine count from pprof (the
// instance must run with GATEHOUSE_PPROF=1), after closing this side's
// idle connections so that their server goroutines end.
func (w *clusterWorld) goroutines(t *testing.T, in *instance) int {
	t.Helper()
	w.client.CloseIdleConnections()
	res, err := http.Get("http://" + in.p.admin + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatalf("pprof on %s: %v", in.name, err)
	}
	body := readBody(res)
	var n int
	if _, err := fmt.Sscanf(body, "goroutine profile: total %d", &n); err != nil {
		t.Fatalf("pprof on %s: %v in %.80q", in.name, err, body)
	}
	return n
}
