package testenv

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestStartPortInUse checks that a slapd that cannot bind its port is
// reported as errPortInUse (which StartSlapd retries with other ports),
// quickly, through its exit rather than the readiness deadline.
func TestStartPortInUse(t *testing.T) {
	t.Parallel()
	Need(t, "slapd", slapdHint)
	slapdPath, _ := lookTool("slapd")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := &Slapd{
		BaseDN: "dc=example,dc=test", AdminDN: "cn=admin,dc=example,dc=test", AdminPassword: "x",
		ServiceDN: "cn=svc,dc=example,dc=test", Dir: t.TempDir(), log: &tailBuffer{max: 1 << 16},
	}
	t.Cleanup(func() { _ = s.Stop() })
	if err := os.Mkdir(filepath.Join(s.Dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(s.Dir, "slapd.conf")
	if err := os.WriteFile(conf, []byte(s.config(SlapdOptions{}, nil)), 0o600); err != nil {
		t.Fatal(err)
	}
	s.URL = "ldap://127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	err = s.start(slapdPath, s.URL+"/", conf)
	if !errors.Is(err, errPortInUse) {
		t.Fatalf("start on a taken port: %v, want errPortInUse\n%s", err, s.Log())
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 4}
	for _, s := range []string{"ab", "cd", "efg"} {
		if _, err := b.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.String(); got != "defg" {
		t.Errorf("tail = %q, want %q", got, "defg")
	}
}
