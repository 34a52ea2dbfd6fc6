//go:build unix

package testenv

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestDumpDOM loads a page whose script changes the DOM after a fetch and
// checks that the dump shows the change (virtual time waited for the
// network), with a host name mapped to loopback.
func TestDumpDOM(t *testing.T) {
	Chromium(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/data" {
			_, _ = io.WriteString(w, "from "+r.Host)
			return
		}
		_, _ = io.WriteString(w, `<!doctype html><title>RUNNING</title><p id=out></p><script>
fetch('/data').then(r => r.text()).then(s => { document.getElementById('out').textContent = s; document.title = 'DONE'; });
</script>`)
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndexByte(srv.URL, ':'):]
	start := time.Now()
	dom := DumpDOM(t, "http://page.example.test"+port+"/", DumpDOMOptions{HostResolverRules: "MAP * 127.0.0.1"})
	t.Logf("chromium run: %v", time.Since(start))
	if !strings.Contains(dom, "<title>DONE</title>") || !strings.Contains(dom, "from page.example.test"+port) {
		t.Errorf("DOM:\n%s", dom)
	}
}
