package authapi

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy/password"
	"github.com/gatehouse-dev/gatehouse/proxy/session"
)

// A password verification's argon2id buffer is garbage as soon as the
// verification ends; checkPassword collects it before giving up its slot,
// so it is not on the heap after a login (with GOGC=400 it would otherwise
// stay, and pile up during a burst: docs/operations.md#memory). Not
// parallel: it reads the process's heap.
func TestCheckPassword_ReclaimsTheArgon2Buffer(t *testing.T) {
	const mem = 32 << 10 // KiB: a 32 MiB buffer per verification
	snap := adminSnapshotWith(t, password.Argon2Params{Memory: mem, Time: 1, Threads: 1})
	sessions, err := session.NewManager(session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sessions.Close)
	h := New(Options{Sessions: sessions})

	for _, body := range []string{`{"username":"root","password":"rootpw"}`, `{"username":"root","password":"wrong"}`} {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r := httptest.NewRequest(http.MethodPost, "/auth/login", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		q := &Request{W: httptest.NewRecorder(), R: r, Path: "/auth/login", Snap: snap, Keys: snap.SessionKeys(),
			Client: netip.MustParseAddr("192.0.2.1"), ID: "req-1"}
		_ = h.Serve(q)
		runtime.ReadMemStats(&after)
		// TotalAlloc proves the buffer was allocated; HeapAlloc that it is gone.
		if grown := after.TotalAlloc - before.TotalAlloc; grown < mem<<10 {
			t.Fatalf("%s: allocated %d bytes, less than the argon2 buffer: not the verification measured", body, grown)
		}
		if held := int64(after.HeapAlloc) - int64(before.HeapAlloc); held > mem<<10/4 {
			t.Errorf("%s: %d bytes more on the heap after the login, want the %d-byte buffer collected", body, held, mem<<10)
		}
	}
}
