package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/policytest"
)

// TestGatehouseTest_AgreesWithProxy sends the requests of the examples'
// tests that need no session (an API key or nothing) to a real gatehouse
// running the example's configuration, in front of a stub upstream that
// answers each with the test's response, and checks that the proxy's
// status, access-log reason and upstream headers are what gatehouse test
// computes for them.
func TestGatehouseTest_AgreesWithProxy(t *testing.T) {
	setExampleEnv(t)
	keys := map[string]string{"shop_frontend": "shop", "portal": "portal"}
	for _, ex := range []string{"quickstart", "record-filters"} {
		t.Run(ex, func(t *testing.T) {
			var mu sync.Mutex
			seen := map[string]http.Header{} // by test index
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := r.Header.Get("X-Test-Index")
				mu.Lock()
				seen[i] = r.Header.Clone()
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, r.Header.Get("X-Test-Response"))
			}))
			defer up.Close()
			t.Setenv("ORDERS_API_URL", up.URL)
			src, err := os.ReadFile(filepath.Join("../../examples", ex, "gatehouse.hcl"))
			if err != nil {
				t.Fatal(err)
			}
			cfg := regexp.MustCompile(`"127\.0\.0\.1:(8080|9901)"`).ReplaceAllString(string(src), `"127.0.0.1:0"`)
			cfg = strings.ReplaceAll(cfg, `"http://127.0.0.1:9002"`, strconv.Quote(up.URL))
			dir := t.TempDir()
			p := startWithConfig(t, dir, cfg)
			defer func() { _ = p.stop(t) }()

			snap, _, _, diags := config.LoadSnapshot(filepath.Join(dir, "gatehouse.hcl"))
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			tests, _, diags := config.LoadTests([]string{filepath.Join("../../examples", ex, "gatehouse_test.hcl")})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			n := 0
			for i, tc := range tests {
				r := tc.Request
				if r.User != "" || r.Admin != "" || r.Provider != "" {
					continue // sessions need a login
				}
				n++
				want := policytest.Run(snap, tc).Outcome
				req, err := http.NewRequest(r.Method, "http://"+p.public+r.Target, bytes.NewReader(r.Body))
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range r.Headers {
					req.Header.Set(k, v)
				}
				if r.App != "" {
					req.Header.Set("X-API-Key", keys[r.App])
				}
				req.Header.Set("X-Test-Index", strconv.Itoa(i))
				req.Header.Set("X-Test-Response", string(tc.Expect.Response))
				c := &http.Client{Timeout: 10 * time.Second}
				res, err := c.Do(req)
				if err != nil {
					t.Fatalf("%q: %v", tc.Name, err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != want.Status {
					t.Errorf("%q: proxy %d, gatehouse test %s", tc.Name, res.StatusCode, want)
					continue
				}
				id := res.Header.Get("X-Request-Id")
				rec := p.waitFor(t, "access record of "+tc.Name, func(m map[string]any) bool {
					return m["msg"] == "request" && m["request_id"] == id
				})
				if got, _ := rec["reason"].(string); got != want.Reason && !(got == "" && want.Allowed()) {
					b, _ := json.Marshal(rec)
					t.Errorf("%q: proxy reason %q, gatehouse test %s\n%s", tc.Name, got, want, b)
				}
				if !want.Allowed() {
					continue
				}
				mu.Lock()
				h := seen[strconv.Itoa(i)]
				mu.Unlock()
				for _, kv := range want.Headers {
					if h.Get(kv[0]) != kv[1] {
						t.Errorf("%q: upstream header %s differs from gatehouse test's", tc.Name, kv[0])
					}
				}
			}
			if n < 5 {
				t.Errorf("%d tests compared, want at least 5", n)
			}
		})
	}
}
