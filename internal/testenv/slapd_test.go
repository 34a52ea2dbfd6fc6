package testenv

import (
	"crypto/tls"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

func dial(t *testing.T, url string, tc *tls.Config) *ldap.Conn {
	t.Helper()
	opts := []ldap.DialOpt{ldap.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second})}
	if tc != nil {
		opts = append(opts, ldap.DialWithTLSConfig(tc))
	}
	c, err := ldap.DialURL(url, opts...)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	c.SetTimeout(2 * time.Second)
	t.Cleanup(func() { c.Close() })
	return c
}

func memberOf(t *testing.T, c *ldap.Conn, dn string) []string {
	t.Helper()
	res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 2, false,
		"(objectClass=*)", []string{"memberOf", "mail"}, nil))
	if err != nil {
		t.Fatalf("read %s: %v", dn, err)
	}
	if len(res.Entries) != 1 {
		t.Fatalf("read %s: %d entries", dn, len(res.Entries))
	}
	got := res.Entries[0].GetAttributeValues("memberOf")
	slices.Sort(got)
	return got
}

func TestStartSlapdPlain(t *testing.T) {
	t.Parallel()
	s := StartSlapd(t, SlapdOptions{})
	if s.LDAPSURL != "" || s.RootCAs != nil {
		t.Errorf("plain server has LDAPSURL %q / RootCAs", s.LDAPSURL)
	}
	if !strings.HasPrefix(s.URL, "ldap://127.0.0.1:") {
		t.Errorf("URL = %q", s.URL)
	}

	c := dial(t, s.URL, nil)
	if err := c.Bind(s.UserDN("alice"), "alicepw"); err != nil {
		t.Fatalf("bind alice: %v", err)
	}
	who, err := c.WhoAmI(nil)
	if err != nil || !strings.EqualFold(who.AuthzID, "dn:"+s.UserDN("alice")) {
		t.Errorf("WhoAmI = %+v, %v", who, err)
	}
	if err := c.Bind(s.UserDN("alice"), "wrong"); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Errorf("bind alice with a wrong password: %v, want 49", err)
	}

	// The service account reads the memberOf the overlay filled in (so
	// the data was loaded online).
	if err := c.Bind(s.ServiceDN, s.ServicePassword); err != nil {
		t.Fatalf("bind svc: %v", err)
	}
	want := map[string][]string{
		"alice": {s.GroupDN("hr-staff"), s.GroupDN("proxy-admins")},
		"bob":   nil,
		"carol": {s.GroupDN("hr-staff")},
	}
	for uid, groups := range want {
		if got := memberOf(t, c, s.UserDN(uid)); !slices.Equal(got, groups) {
			t.Errorf("%s memberOf = %q, want %q", uid, got, groups)
		}
	}

	// Anonymous users see nothing (the ACL, and OpenLDAP says
	// noSuchObject rather than reveal the entry); the empty-password bind
	// of a DN is refused (53) on a default server.
	anon := dial(t, s.URL, nil)
	_, err = anon.Search(ldap.NewSearchRequest(s.PeopleDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 2, false,
		"(uid=*)", []string{"uid"}, nil))
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		t.Errorf("anonymous search: %v, want noSuchObject (32)", err)
	}
	if err := anon.UnauthenticatedBind(s.UserDN("alice")); !ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform) {
		t.Errorf("unauthenticated bind: %v, want 53", err)
	}

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil { // idempotent
		t.Fatal(err)
	}
	if c, err := ldap.DialURL(s.URL); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Stop", s.URL)
	}
}

func TestStartSlapdTLS(t *testing.T) {
	t.Parallel()
	s := StartSlapd(t, SlapdOptions{TLS: true})
	if !strings.HasPrefix(s.LDAPSURL, "ldaps://127.0.0.1:") || s.RootCAs == nil || s.CAFile == "" {
		t.Fatalf("TLS server: LDAPSURL %q, RootCAs %v, CAFile %q", s.LDAPSURL, s.RootCAs, s.CAFile)
	}
	tc := &tls.Config{RootCAs: s.RootCAs, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}

	t.Run("ldaps", func(t *testing.T) {
		c := dial(t, s.LDAPSURL, tc)
		if err := c.Bind(s.UserDN("alice"), "alicepw"); err != nil {
			t.Fatalf("bind alice: %v", err)
		}
	})
	t.Run("StartTLS", func(t *testing.T) {
		c := dial(t, s.URL, nil)
		if err := c.StartTLS(tc); err != nil {
			t.Fatalf("StartTLS: %v", err)
		}
		if err := c.Bind(s.UserDN("alice"), "alicepw"); err != nil {
			t.Fatalf("bind alice: %v", err)
		}
	})
	t.Run("localhost name", func(t *testing.T) {
		ltc := tc.Clone()
		ltc.ServerName = "localhost"
		c := dial(t, s.LDAPSURL, ltc)
		if err := c.Bind(s.UserDN("bob"), "bobpw"); err != nil {
			t.Fatalf("bind bob: %v", err)
		}
	})
	t.Run("unknown CA refused", func(t *testing.T) {
		if c, err := ldap.DialURL(s.LDAPSURL, ldap.DialWithTLSConfig(&tls.Config{ServerName: "127.0.0.1"})); err == nil {
			c.Close()
			t.Fatal("ldaps with system roots verified the test CA")
		}
	})
}

func TestStartSlapdCustomUsers(t *testing.T) {
	t.Parallel()
	// Characters that need escaping in DNs (, + \) and in filters ( ) *,
	// a non-ASCII name (base64 in LDIF), a user without password or mail.
	users := []SlapdUser{
		{UID: "o'brien(x)*", CN: "Ó Brien, Pádraig", Password: "pw1", Groups: []string{"a+b", "ops"}},
		{UID: "d,ave", Password: "pw2", Groups: []string{"ops"}},
		{UID: "nopw"},
	}
	s := StartSlapd(t, SlapdOptions{Users: users})
	c := dial(t, s.URL, nil)
	for _, u := range users[:2] {
		if err := c.Bind(s.UserDN(u.UID), u.Password); err != nil {
			t.Errorf("bind %q: %v", u.UID, err)
		}
	}
	if err := c.Bind(s.ServiceDN, s.ServicePassword); err != nil {
		t.Fatal(err)
	}
	// slapd writes memberOf in its own escaping (a\2Bb for a+b): compare
	// parsed DNs.
	got := memberOf(t, c, s.UserDN("o'brien(x)*"))
	want := []string{s.GroupDN("a+b"), s.GroupDN("ops")}
	if len(got) != len(want) || !sameDN(t, got[0], want[0]) || !sameDN(t, got[1], want[1]) {
		t.Errorf("memberOf = %q, want %q", got, want)
	}
	res, err := c.Search(ldap.NewSearchRequest(s.PeopleDN, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 2, false,
		"(uid="+ldap.EscapeFilter("o'brien(x)*")+")", []string{"cn"}, nil))
	if err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("cn") != "Ó Brien, Pádraig" {
		t.Errorf("search by escaped uid: %v %+v", err, res)
	}
	// Defaults are not added when Users is set.
	if err := c.Bind(s.UserDN("alice"), "alicepw"); err == nil {
		t.Error("alice exists although Users was given")
	}
}

func sameDN(t *testing.T, a, b string) bool {
	t.Helper()
	da, err := ldap.ParseDN(a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := ldap.ParseDN(b)
	if err != nil {
		t.Fatal(err)
	}
	return da.EqualFold(db)
}

// fakeTB records how Need ended the test. Fatalf and Skipf end the
// goroutine, as the real ones do.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = format
	runtime.Goexit()
}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skip = format
	runtime.Goexit()
}

func runNeed(t *testing.T, tool string) *fakeTB {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Need(f, tool, "install it")
	}()
	<-done
	return f
}

func TestNeed(t *testing.T) {
	const missing = "gatehouse-no-such-tool"
	t.Run("missing skips outside CI", func(t *testing.T) {
		t.Setenv("CI", "")
		if f := runNeed(t, missing); f.skip == "" || f.fatal != "" {
			t.Errorf("skip %q fatal %q, want a skip", f.skip, f.fatal)
		}
	})
	t.Run("missing fails in CI", func(t *testing.T) {
		t.Setenv("CI", "true")
		if f := runNeed(t, missing); f.fatal == "" || f.skip != "" {
			t.Errorf("skip %q fatal %q, want a failure", f.skip, f.fatal)
		}
	})
	t.Run("present", func(t *testing.T) {
		t.Setenv("CI", "true")
		if f := runNeed(t, "sh"); f.fatal != "" || f.skip != "" {
			t.Errorf("skip %q fatal %q for sh", f.skip, f.fatal)
		}
	})
}
