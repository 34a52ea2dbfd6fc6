package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/settings"
)

const clusterRedisPassword = "redis-acl-secret-do-not-print"

// clusterConfig is a minimal config whose cluster block reaches addr as
// the ACL user gatehouse, the password from $GATEHOUSE_TEST_REDIS_PASSWORD.
func clusterConfig(addr string) string {
	return fmt.Sprintf(`
server {
  listen       = "127.0.0.1:0"
  admin_listen = "127.0.0.1:0"
}

upstream "hr" {
  url    = "http://127.0.0.1:9"
  prefix = "/hr"
}

cluster {
  redis        = "redis://%s"
  username     = "gatehouse"
  password     = env("GATEHOUSE_TEST_REDIS_PASSWORD")
  key_prefix   = "gh-test:"
  dial_timeout = "500ms"
}
`, addr)
}

func startClusterRedis(t *testing.T) *testenv.Redis {
	t.Helper()
	t.Setenv("GATEHOUSE_TEST_REDIS_PASSWORD", clusterRedisPassword)
	return testenv.StartRedis(t, testenv.RedisOptions{User: "gatehouse", UserPassword: clusterRedisPassword})
}

func noSecretInLogs(t *testing.T, p *process) {
	t.Helper()
	for _, l := range p.logs() {
		if b, _ := json.Marshal(l); strings.Contains(string(b), clusterRedisPassword) {
			t.Errorf("a log line holds the Redis password: %s", b)
		}
	}
}

var instanceRE = regexp.MustCompile(`^[0-9a-f]{12}$`)

// serve with a cluster block connects at start, says so, and names its
// instance in every record.
func TestCluster_ServeConnects(t *testing.T) {
	r := startClusterRedis(t)
	p := startWithConfig(t, t.TempDir(), clusterConfig(r.Addr))
	up := p.waitFor(t, "cluster redis up", func(l map[string]any) bool { return l["msg"] == "cluster redis up" })
	if up["server"] != r.Addr || up["prefix"] != "gh-test:" {
		t.Errorf("cluster line = %v, want server %s and prefix gh-test:", up, r.Addr)
	}
	loaded := p.waitFor(t, "config loaded", func(l map[string]any) bool { return l["msg"] == "config loaded" })
	id, _ := loaded["instance"].(string)
	if !instanceRE.MatchString(id) {
		t.Errorf("config loaded: instance = %q, want 12 hex digits", id)
	}
	for _, l := range p.logs() {
		if l["msg"] == "listening" && l["instance"] != id {
			t.Errorf("listening line without instance %s: %v", id, l)
		}
	}
	// The client is connected as the ACL user: Redis lists it.
	clients, err := r.Do("CLIENT", "LIST")
	if err != nil || strings.Count(fmt.Sprint(clients), "user=gatehouse") < 2 { // gatehouse's + this probe
		t.Errorf("CLIENT LIST = %v (%v), want gatehouse's connection", clients, err)
	}
	if err := p.stop(t); err != nil {
		t.Errorf("exit: %v", err)
	}
	noSecretInLogs(t, p)
}

// Redis down at start does not stop gatehouse: it logs the failure,
// serves, and connects once Redis is back, without a restart.
func TestCluster_ServeStartsWithRedisDown(t *testing.T) {
	r := startClusterRedis(t)
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	p := startWithConfig(t, t.TempDir(), clusterConfig(r.Addr))
	down := p.waitFor(t, "redis unreachable", func(l map[string]any) bool {
		msg, _ := l["msg"].(string)
		return strings.HasPrefix(msg, "cluster redis unreachable at start")
	})
	if down["level"] != "ERROR" || down["server"] != r.Addr || !strings.Contains(fmt.Sprint(down["error"]), r.Addr) {
		t.Errorf("start failure line = %v", down)
	}
	r.Restart(t)
	p.waitFor(t, "cluster redis up", func(l map[string]any) bool { return l["msg"] == "cluster redis up" })
	if err := p.stop(t); err != nil {
		t.Errorf("exit: %v", err)
	}
	noSecretInLogs(t, p)
}

func TestValidate_CheckCluster(t *testing.T) {
	r := startClusterRedis(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gatehouse.hcl")
	writeFile(t, cfg, clusterConfig(r.Addr))

	code, out, errOut := runCmd(t, dir, "validate", "--config", cfg, "--check-cluster")
	want := fmt.Sprintf("cluster: ok (redis %s, prefix gh-test:)", r.Addr)
	if code != 0 || !strings.Contains(out, want) {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0 and %q", code, out, errOut, want)
	}

	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	// Without the flag, validate never touches the network.
	if code, out, errOut := runCmd(t, dir, "validate", "--config", cfg); code != 0 || strings.Contains(out+errOut, "cluster") {
		t.Errorf("without --check-cluster: exit %d, %q %q; want 0 and no cluster check", code, out, errOut)
	}
	code, out, errOut = runCmd(t, dir, "validate", "--config", cfg, "--check-cluster")
	if code != 1 || !strings.HasPrefix(errOut, "cluster: redis "+r.Addr+": ") || strings.Contains(out+errOut, clusterRedisPassword) {
		t.Errorf("Redis down: exit %d, stdout %q, stderr %q; want 1 and the error naming %s", code, out, errOut, r.Addr)
	}
}

func TestNeedsRestart_Cluster(t *testing.T) {
	a := &settings.Runtime{Cluster: &settings.Cluster{Addr: "127.0.0.1:6379", Origin: "a.hcl:1,1"}}
	b := &settings.Runtime{Cluster: &settings.Cluster{Addr: "127.0.0.1:6379", Origin: "b.hcl:9,1"}}
	if got := needsRestart(a, b); len(got) != 0 {
		t.Errorf("same cluster: needsRestart = %v", got)
	}
	b.Cluster.Password = "new"
	if got := fmt.Sprint(needsRestart(a, b)); got != "[cluster]" {
		t.Errorf("changed password: needsRestart = %s, want [cluster]", got)
	}
	if got := fmt.Sprint(needsRestart(a, &settings.Runtime{})); got != "[cluster]" {
		t.Errorf("cluster removed: needsRestart = %s, want [cluster]", got)
	}
}

// fmt and validate print syntax errors with a snippet of the line: a
// password written on it is blanked, as in every other diagnostic.
func TestFmt_SyntaxErrorHidesSecrets(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ line, blanked string }{
		{`password = "fmt-secret-value" oops`, `password = "****************" oops`},
		{`redis = "redis://gh:url-secret@127.0.0.1:6379" oops`, `redis = "redis://*************@127.0.0.1:6379" oops`},
	} {
		cfg := filepath.Join(dir, "gatehouse.hcl")
		writeFile(t, cfg, "cluster {\n  "+tc.line+"\n}\n")
		for _, args := range [][]string{{"fmt", cfg}, {"validate", "--config", cfg}} {
			code, out, errOut := runCmd(t, dir, args...)
			if code != 1 || !strings.Contains(errOut, tc.blanked) || !strings.Contains(errOut, "Missing newline") {
				t.Errorf("%v: exit %d, stderr %q; want 1 and the blanked snippet %q", args, code, errOut, tc.blanked)
			}
			if strings.Contains(out+errOut, "fmt-secret-value") || strings.Contains(out+errOut, "url-secret") {
				t.Errorf("%v prints a secret:\n%s", args, errOut)
			}
		}
	}
}
