package acme

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/settings"
)

func TestExpiries_Seen(t *testing.T) {
	domains := map[string]bool{"api.example.test": true, "www.example.test": true}
	t0 := time.Unix(1_800_000_000, 0)
	var e expiries
	for _, s := range []struct {
		key string
		at  time.Time
	}{
		{"api.example.test", t0},
		{"api.example.test+rsa", t0.Add(-time.Hour)}, // earlier: the ECDSA one counts
		{"www.example.test+rsa", t0.Add(time.Hour)},  // RSA only
		{"other.example.test", t0},                   // not configured
		{"API.example.test", t0.Add(48 * time.Hour)}, // renewed (any case)
		{"acme_account+key", t0.Add(72 * time.Hour)}, // not a certificate of ours
	} {
		e.seen(domains, s.key, s.at)
	}
	got := e.snapshot()
	want := map[string]time.Time{"api.example.test": t0.Add(48 * time.Hour), "www.example.test": t0.Add(time.Hour)}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if !got[k].Equal(v) {
			t.Errorf("%s: %v, want %v", k, got[k], v)
		}
	}
}

// In static mode, Expiry names the loaded certificate's names and follows
// a reload.
func TestStaticCertificate_Expiry(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writePair(t, dir, "api.example.test", "www.example.test")
	log, _ := newLogger()
	m := newManager(t, &settings.TLS{CertFile: certFile, KeyFile: keyFile}, log)
	exp := m.Expiry()
	if len(exp) != 2 || exp["api.example.test"].IsZero() || !exp["api.example.test"].Equal(exp["www.example.test"]) {
		t.Fatalf("Expiry = %v", exp)
	}
	if left := time.Until(exp["api.example.test"]); left < 23*time.Hour || left > 25*time.Hour {
		t.Errorf("expiry in %v, want about 24h (writePair)", left)
	}
	writePair(t, dir, "new.example.test")
	if changed, err := m.ReloadCertificate(); !changed || err != nil {
		t.Fatalf("reload: %v %v", changed, err)
	}
	if exp := m.Expiry(); len(exp) != 1 || exp["new.example.test"].IsZero() {
		t.Errorf("after reload Expiry = %v", exp)
	}
}
