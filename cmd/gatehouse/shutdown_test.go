package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// SIGTERM: stop accepting, let the request in flight finish, exit 0.
func TestRun_GracefulShutdownDrainsInFlight(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "finished")
	}))
	defer up.Close()
	p := startWithConfig(t, t.TempDir(), fmt.Sprintf(e2eConfig, up.URL, hashKey("k1")))
	type result struct {
		code int
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("GET", "http://"+p.public+"/hr/employees", nil)
		req.Header.Set("X-API-Key", "k1")
		res, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		done <- result{code: res.StatusCode, body: string(b)}
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not reach the upstream")
	}
	exited := make(chan error, 1)
	go func() { exited <- p.stop(t) }()
	p.waitFor(t, "shutdown log line", func(m map[string]any) bool { return m["msg"] == "shutting down" })
	close(release)
	select {
	case r := <-done:
		if r.err != nil || r.code != 200 || r.body != "finished" {
			t.Errorf("in-flight request: %d %q %v", r.code, r.body, r.err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("in-flight request did not finish")
	}
	if err := <-exited; err != nil {
		t.Errorf("exit: %v, want 0", err)
	}
}
