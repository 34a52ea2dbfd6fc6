package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestVersion_Format(t *testing.T) {
	bi := &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/gatehouse-dev/gatehouse", Version: "v0.0.0-20261207100000-3f2c9e1a7b4d"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "3f2c9e1a7b4d5e6f708192a3b4c5d6e7f8091a2b"},
			{Key: "vcs.time", Value: "2026-12-07T10:11:12Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	for _, tc := range []struct {
		name, ldVersion, ldRevision string
		bi                          *debug.BuildInfo
		want                        string
	}{
		{"build info", "", "", bi, "gatehouse v0.0.0-20261207100000-3f2c9e1a7b4d (rev 3f2c9e1a7b4d, 2026-12-07T10:11:12Z, modified) go1.26.8 linux/amd64"},
		{"ldflags version wins", "v1.4.0", "", bi, "gatehouse v1.4.0 (rev 3f2c9e1a7b4d, 2026-12-07T10:11:12Z, modified) go1.26.8 linux/amd64"},
		{"clean tree", "", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}}}, "gatehouse v1.4.0 (rev abc) go1.26.8 linux/amd64"},
		{"ldflags revision without vcs", "v1.4.0", "0123456789abcdef0123", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "gatehouse v1.4.0 (rev 0123456789ab) go1.26.8 linux/amd64"},
		{"nothing", "", "", nil, "gatehouse (devel) go1.26.8 linux/amd64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := formatVersion(tc.ldVersion, tc.ldRevision, tc.bi, "go1.26.8", "linux/amd64"); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// Built as the Dockerfile builds it (no .git in the context: version and
// revision come from -ldflags), the binary prints both.
func TestVersion_BinaryWithLdflags(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "gatehouse")
	build := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -X main.version=v9.9.9 -X main.revision=0123456789abcdef0123456789abcdef01234567",
		"-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "gatehouse v9.9.9 (rev 0123456789ab) " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if string(out) != want {
		t.Fatalf("version = %q, want %q", out, want)
	}
}

func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-r.Context().Done()
			return
		}
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/healthz", http.StatusFound)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	run := func(args ...string) int {
		var o, e bytes.Buffer
		return dispatch(append([]string{"healthcheck"}, args...), &o, &e)
	}
	if c := run("--url", srv.URL+"/healthz"); c != 0 {
		t.Errorf("200: exit %d, want 0", c)
	}
	status = http.StatusServiceUnavailable
	if c := run("--url", srv.URL+"/healthz"); c != 1 {
		t.Errorf("503: exit %d, want 1", c)
	}
	if c := run("--url", srv.URL+"/redirect"); c != 1 {
		t.Errorf("redirect: exit %d, want 1", c)
	}
	if c := run("--url", closedURL+"/healthz"); c != 1 {
		t.Errorf("nothing listening: exit %d, want 1", c)
	}
	start := time.Now()
	if c := run("--url", srv.URL+"/slow", "--timeout", "200ms"); c != 1 {
		t.Errorf("slow: exit %d, want 1", c)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("slow: took %s, want about the 200ms timeout", d)
	}
	if c := run("--url", "ftp://127.0.0.1/x"); c != 1 {
		t.Errorf("bad url: exit %d, want 1", c)
	}
	if c := run("extra"); c != 2 {
		t.Errorf("extra argument: exit %d, want 2", c)
	}
}
