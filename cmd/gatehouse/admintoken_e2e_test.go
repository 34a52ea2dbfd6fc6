package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// keygen --admin-token prints a token and the line for the server block;
// with it in the config, a deploy script reloads with the token alone,
// a wrong token is 401, and the token opens nothing on the public listener.
func TestRun_AdminTokenReloads(t *testing.T) {
	code, stdout, _ := runCmd(t, t.TempDir(), "keygen", "--admin-token", "--json")
	var out struct {
		Token string `json:"token"`
		Hash  string `json:"admin_token_sha256"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &out) != nil || !strings.HasPrefix(out.Token, "gh_admin_") || len(out.Hash) != 64 {
		t.Fatalf("keygen --admin-token --json: %d %q", code, stdout)
	}
	if hashKey(out.Token) != out.Hash {
		t.Fatal("admin_token_sha256 is not the SHA-256 of the token")
	}
	var upstreamHits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { upstreamHits.Add(1) }))
	defer up.Close()
	cfg := strings.Replace(fmt.Sprintf(e2eConfig, up.URL, hashKey("k1")), `read_header_timeout = "1s"`,
		`read_header_timeout = "1s"
  admin_token_sha256  = "`+out.Hash+`"`, 1)
	p := startWithConfig(t, t.TempDir(), cfg)
	post := func(auth string) (int, string) {
		req, _ := http.NewRequest("POST", "http://"+p.admin+"/admin/reload", nil)
		req.Header.Set("Authorization", auth)
		res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		s, _ := m["status"].(string)
		return res.StatusCode, s
	}
	if code, status := post("Bearer " + out.Token); code != 200 || status != "unchanged" {
		t.Errorf("reload with the token: %d %q, want 200 unchanged", code, status)
	}
	if code, _ := post("Bearer " + out.Token[:len(out.Token)-1]); code != 401 {
		t.Errorf("reload with a wrong token: %d, want 401", code)
	}
	res, _ := get(t, "http://"+p.public+"/hr/employees", map[string]string{"Authorization": "Bearer " + out.Token})
	if res.StatusCode != 401 || upstreamHits.Load() != 0 {
		t.Errorf("public listener with the admin token: %d (%d upstream hits), want 401 and none", res.StatusCode, upstreamHits.Load())
	}
	if err := p.stop(t); err != nil {
		t.Errorf("exit: %v", err)
	}
}
