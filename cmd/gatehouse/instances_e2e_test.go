package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy/password"
)

// instancesStatusBody is GET /admin/instances' answer as a test reads it.
type instancesStatusBody struct {
	Self      string `json:"self"`
	Converged bool   `json:"converged"`
	Error     string `json:"error"`
	Instances []struct {
		ID         string `json:"id"`
		PID        int    `json:"pid"`
		Version    string `json:"version"`
		ConfigHash string `json:"config_hash"`
		ReloadsOK  int    `json:"reloads_ok"`
		LastReload string `json:"last_reload"`
	} `json:"instances"`
}

// Two instances on one Redis list each other in GET /admin/instances;
// a reload of one is seen as not converged until the other has it too; a
// stopped instance leaves the list. /readyz reports the cluster's health.
func TestCluster_AdminInstances(t *testing.T) {
	r := startClusterRedis(t)
	h, err := password.New("rootpw", password.Argon2Params{Memory: 1024, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	conf := func(comment string) string {
		return clusterConfig(r.Addr) + fmt.Sprintf(`
sessions {
  signing_key = "instances-test-signing-key-0123456789abcdef"
}

admin "root" {
  password_hash = "%s"
}
# %s
`, h, comment)
	}
	dirA, dirB := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(dirA, "gatehouse.hcl"), conf("v1"))
	writeFile(t, filepath.Join(dirB, "gatehouse.hcl"), conf("v1"))
	a := startBinary(t, "run", "--config", dirA, "--watch-debounce", "40ms")
	t.Cleanup(func() { _ = a.stop(t) })
	b := startBinary(t, "run", "--config", dirB, "--watch-debounce", "40ms")
	stoppedB := false
	t.Cleanup(func() {
		if !stoppedB {
			_ = b.stop(t)
		}
	})

	res, err := http.Post("http://"+a.public+"/auth/login", "application/json", strings.NewReader(`{"username":"root","password":"rootpw"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login map[string]any
	_ = json.NewDecoder(res.Body).Decode(&login)
	res.Body.Close()
	tok, _ := login["session_token"].(string)
	if res.StatusCode != 200 || tok == "" {
		t.Fatalf("admin login: %d %v", res.StatusCode, login)
	}
	list := func() instancesStatusBody {
		req, _ := http.NewRequest("GET", "http://"+a.admin+"/admin/instances", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var st instancesStatusBody
		if err := json.NewDecoder(res.Body).Decode(&st); err != nil || res.StatusCode != 200 {
			t.Fatalf("/admin/instances: %d %v", res.StatusCode, err)
		}
		return st
	}
	waitList := func(what string, ok func(instancesStatusBody) bool) instancesStatusBody {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		var st instancesStatusBody
		for time.Now().Before(deadline) {
			if st = list(); ok(st) {
				return st
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s: not within 20s; last %+v", what, st)
		return st
	}
	st := waitList("two instances", func(s instancesStatusBody) bool { return len(s.Instances) == 2 && s.Error == "" })
	if !st.Converged || st.Instances[0].ConfigHash == "" || st.Instances[0].PID == 0 || st.Instances[0].Version == "" {
		t.Errorf("two instances: %+v", st)
	}
	if !instanceRE.MatchString(st.Self) || (st.Instances[0].ID != st.Self && st.Instances[1].ID != st.Self) {
		t.Errorf("self %q not listed: %+v", st.Self, st)
	}

	// A deploy reaching A first: not converged until B reloads too (its
	// next heartbeat, within 5 s).
	writeFile(t, filepath.Join(dirA, "gatehouse.hcl"), conf("v2"))
	waitList("A reloaded", func(s instancesStatusBody) bool { return !s.Converged && s.Error == "" && len(s.Instances) == 2 })
	writeFile(t, filepath.Join(dirB, "gatehouse.hcl"), conf("v2"))
	st = waitList("converged again", func(s instancesStatusBody) bool { return s.Converged && len(s.Instances) == 2 })
	for _, in := range st.Instances {
		if in.ReloadsOK != 1 || in.LastReload != "ok" {
			t.Errorf("reload outcome of %s: %+v", in.ID, in)
		}
	}

	// B stops: it removes its heartbeat.
	if err := b.stop(t); err != nil {
		t.Fatal(err)
	}
	stoppedB = true
	if st := list(); len(st.Instances) != 1 || st.Instances[0].ID != st.Self || !st.Converged {
		t.Errorf("after B stopped: %+v", st)
	}

	// /readyz: 200 with the cluster state; still 200 with Redis down.
	readyz := func() (int, map[string]any) {
		res, err := http.Get("http://" + a.admin + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		m := map[string]any{}
		_ = json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	if code, m := readyz(); code != 200 || !strings.Contains(fmt.Sprint(m["cluster"]), "up:true") {
		t.Errorf("/readyz: %d %v", code, m)
	}
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	a.waitFor(t, "cluster redis down", func(l map[string]any) bool { return l["msg"] == "cluster redis down" })
	if code, m := readyz(); code != 200 || !strings.Contains(fmt.Sprint(m["cluster"]), "up:false") {
		t.Errorf("/readyz with Redis down: %d %v", code, m)
	}
	if st := list(); st.Converged || st.Error == "" || len(st.Instances) != 1 || st.Instances[0].ID != st.Self {
		t.Errorf("/admin/instances with Redis down: %+v", st)
	}
	noSecretInLogs(t, a)
}

// TestDocs_MultiInstanceExampleIsValid validates examples/multi-instance
// with the environment its run.sh gives each instance (validate needs no
// Redis).
func TestDocs_MultiInstanceExampleIsValid(t *testing.T) {
	t.Setenv("GATEHOUSE_LISTEN", "127.0.0.1:8081")
	t.Setenv("GATEHOUSE_ADMIN_LISTEN", "127.0.0.1:9911")
	t.Setenv("GATEHOUSE_SIGNING_KEY", "multi-instance-test-signing-key-0123456789abcdef")
	code, stdout, stderr := runCmd(t, ".", "validate", "--config", "../../examples/multi-instance")
	if code != 0 || stderr != "" {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
	// The example's key and passwords are the ones its comments and
	// README give.
	src, err := os.ReadFile("../../examples/multi-instance/gatehouse.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), hashKey("gh_multi-instance-example-key-not-a-secret")) {
		t.Error("the app's api_key_sha256 is not the hash of the documented key")
	}
	accounts := regexp.MustCompile(`(?s)(user|admin) "(\w+)" \{\s*password_hash = "([^"]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(accounts) != 2 {
		t.Fatalf("found %d accounts, want alice and root", len(accounts))
	}
	for _, m := range accounts {
		pw := map[string]string{"alice": "alice-example-password", "root": "root-example-password"}[m[2]]
		if h, err := password.Parse(m[3]); err != nil || !h.Verify(pw) {
			t.Errorf("%s %s: the hash is not of %q (%v)", m[1], m[2], pw, err)
		}
	}
}
