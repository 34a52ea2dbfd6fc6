package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
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

// drainConfig is e2eConfig with a shutdown_delay.
func drainConfig(upstream, delay string) string {
	return strings.Replace(fmt.Sprintf(e2eConfig, upstream, hashKey("k1")),
		`read_header_timeout = "1s"`, `read_header_timeout = "1s"
  shutdown_delay      = "`+delay+`"`, 1)
}

// getStatus sends GET url on a new connection and returns the status, or
// an error.
func getStatus(url string, hdr map[string]string) (int, string, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0, "", err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), nil
}

// SIGTERM with shutdown_delay: /readyz turns 503 "draining" while the
// public listener keeps serving new connections and the request in flight
// goes on; a second SIGTERM ends the delay; the request in flight
// finishes and the process exits 0.
func TestRun_ShutdownDelayDrainsThenStops(t *testing.T) {
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/slow") {
			started <- struct{}{}
			<-release
		}
		_, _ = io.WriteString(w, "finished")
	}))
	defer up.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	p := startWithConfig(t, t.TempDir(), drainConfig(up.URL, "10m"))
	key := map[string]string{"X-API-Key": "k1"}
	type result struct {
		code int
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		code, body, err := getStatus("http://"+p.public+"/hr/employees/slow", key)
		slow <- result{code, body, err}
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request did not reach the upstream")
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitFor(t, "draining log line", func(m map[string]any) bool { return m["msg"] == "draining" && m["delay"] == "10m0s" })
	code, body, err := getStatus("http://"+p.admin+"/readyz", nil)
	if err != nil || code != 503 || !strings.Contains(body, `"status":"draining"`) {
		t.Fatalf("/readyz while draining: %d %q %v, want 503 draining", code, body, err)
	}
	if code, _, err := getStatus("http://"+p.admin+"/healthz", nil); err != nil || code != 200 {
		t.Errorf("/healthz while draining: %d %v, want 200", code, err)
	}
	// A new connection to the public listener is served as before.
	if code, body, err := getStatus("http://"+p.public+"/hr/employees", key); err != nil || code != 200 || body != "finished" {
		t.Errorf("proxied request while draining: %d %q %v, want 200", code, body, err)
	}
	select {
	case r := <-slow:
		t.Fatalf("the request in flight ended during the delay: %+v", r)
	default:
	}
	for _, l := range p.logs() {
		if l["msg"] == "shutting down" {
			t.Fatal("shutting down before the delay ended")
		}
	}
	// The second SIGTERM skips the rest of the 10m delay.
	exited := make(chan error, 1)
	go func() { exited <- p.stop(t) }()
	p.waitFor(t, "delay cut short", func(m map[string]any) bool { return m["msg"] == "drain delay cut short by a second signal" })
	p.waitFor(t, "shutdown log line", func(m map[string]any) bool { return m["msg"] == "shutting down" })
	close(release)
	select {
	case r := <-slow:
		if r.err != nil || r.code != 200 || r.body != "finished" {
			t.Errorf("in-flight request: %d %q %v, want 200 finished", r.code, r.body, r.err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("in-flight request did not finish")
	}
	if err := <-exited; err != nil {
		t.Errorf("exit: %v, want 0", err)
	}
}

// The delay ends by itself: after it, the process shuts down and exits 0
// without a second signal.
func TestRun_ShutdownDelayEndsByItself(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	p := startWithConfig(t, t.TempDir(), drainConfig(up.URL, "200ms"))
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.waitErr:
		if err != nil {
			t.Errorf("exit: %v, want 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("gatehouse did not exit within 30s of SIGTERM")
	}
	var order []string
	for _, l := range p.logs() {
		if m, _ := l["msg"].(string); m == "draining" || m == "shutting down" || m == "drain delay cut short by a second signal" {
			order = append(order, m)
		}
	}
	if fmt.Sprint(order) != "[draining shutting down]" {
		t.Errorf("log lines %q, want draining then shutting down", order)
	}
}
