package ldapauth

import (
	"context"
	"crypto/x509"
	"errors"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// These tests run against a real OpenLDAP slapd (internal/testenv): no
// mocks of LDAP semantics. The only fakes are network faults (a closed
// port, a listener that never answers).

// config returns the usual configuration for a testenv server: service
// account, uid logins, groups searched under ou=groups.
func config(s *testenv.Slapd) Config {
	return Config{
		Name:         "test",
		URL:          s.URL,
		RootCAs:      s.RootCAs,
		BindDN:       s.ServiceDN,
		BindPassword: s.ServicePassword,
		UserBase:     s.PeopleDN,
		UserFilter:   "(uid={username})",
		GroupBase:    s.GroupsDN,
		Timeout:      5 * time.Second,
	}
}

// authenticate calls Authenticate and checks what must hold for every
// call: neither the password nor the username appears in the error, and
// an error comes with an empty entry.
func authenticate(t *testing.T, cfg Config, username, password string) (Entry, error) {
	t.Helper()
	e, err := Authenticate(context.Background(), cfg, username, password)
	if err != nil && password != "" && strings.Contains(err.Error(), password) {
		t.Errorf("error contains the password: %v", err)
	}
	if err != nil && !errors.Is(err, ErrInvalidCredentials) && cfg.BindPassword != "" &&
		strings.Contains(err.Error(), cfg.BindPassword) {
		t.Errorf("error contains the bind password: %v", err)
	}
	inConfig := strings.Contains(strings.Join([]string{cfg.Name, cfg.URL, cfg.BindDN, cfg.UserBase,
		cfg.UserFilter, cfg.GroupBase, cfg.GroupFilter}, "\n"), username)
	if err != nil && len(username) >= 3 && !inConfig && strings.Contains(err.Error(), username) {
		t.Errorf("error contains the username: %v", err)
	}
	if err != nil && !equalEntry(e, Entry{}) {
		t.Errorf("error %v with a non-empty entry %+v", err, e)
	}
	return e, err
}

// wantRefused fails unless err is exactly a credential refusal.
func wantRefused(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("err = %v, want ErrInvalidCredentials", err)
	}
}

// wantUnavailable fails unless err is a non-credential error.
func wantUnavailable(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Error("err = nil, want a non-credential error")
	} else if errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("err = %v, want a non-credential error (503, not 401)", err)
	} else {
		t.Logf("error (as expected): %v", err)
	}
}

func equalEntry(a, b Entry) bool {
	return a.DN == b.DN && a.Username == b.Username && a.Email == b.Email && slices.Equal(a.Groups, b.Groups)
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{})
	cfg := config(s)
	memberOf := cfg
	memberOf.GroupBase = "" // groups from the memberOf overlay
	alice := Entry{
		DN: s.UserDN("alice"), Username: "alice", Email: "alice@example.test",
		Groups: []string{"hr-staff", "proxy-admins"},
	}

	ok := []struct {
		name               string
		cfg                Config
		username, password string
		want               Entry
	}{
		{"alice", cfg, "alice", "alicepw", alice},
		{"alice via memberOf", memberOf, "alice", "alicepw", alice},
		{"bob has no group", cfg, "bob", "bobpw", Entry{DN: s.UserDN("bob"), Username: "bob", Email: "bob@example.test"}},
		{"bob via memberOf", memberOf, "bob", "bobpw", Entry{DN: s.UserDN("bob"), Username: "bob", Email: "bob@example.test"}},
		{"carol", cfg, "carol", "carolpw", Entry{DN: s.UserDN("carol"), Username: "carol", Email: "carol@example.test", Groups: []string{"hr-staff"}}},
		// uid matching ignores case and surrounding spaces: the entry
		// gives the one canonical name.
		{"case-folded login is canonical", cfg, "ALICE", "alicepw", alice},
		{"padded login is canonical", cfg, " alice ", "alicepw", alice},
		{"group name attribute", func() Config { c := cfg; c.GroupAttr = "cn"; c.EmailAttr = "uid"; return c }(),
			"carol", "carolpw", Entry{DN: s.UserDN("carol"), Username: "carol", Email: "carol", Groups: []string{"hr-staff"}}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			got, err := authenticate(t, tc.cfg, tc.username, tc.password)
			if err != nil {
				t.Fatalf("Authenticate: %v\n%s", err, s.Log())
			}
			if !equalEntry(got, tc.want) {
				t.Errorf("entry = %+v, want %+v", got, tc.want)
			}
		})
	}

	refused := []struct {
		name               string
		cfg                Config
		username, password string
	}{
		{"wrong password", cfg, "alice", "wrong"},
		{"another user's password", cfg, "bob", "alicepw"},
		{"password with different case", cfg, "alice", "ALICEPW"},
		{"unknown user", cfg, "mallory", "alicepw"},
		{"empty password", cfg, "alice", ""},
		{"empty password, memberOf", memberOf, "alice", ""},
		// Injection: escaped, these match no uid. Unescaped, "alice*"
		// and "al*e" would find alice alone and log in with her password.
		{"star", cfg, "*", "alicepw"},
		{"prefix star", cfg, "alice*", "alicepw"},
		{"inner star", cfg, "al*e", "alicepw"},
		{"close and reopen", cfg, ")(uid=*", "alicepw"},
		{"star close reopen", cfg, "*)(uid=*", "alicepw"},
		{"or injection", cfg, "alice)(|(uid=*", "alicepw"},
		{"and injection", cfg, "alice)(uid=alice", "alicepw"},
		{"whole filter", cfg, "(uid=alice)", "alicepw"},
		{"backslash", cfg, `\`, "alicepw"},
		{"trailing backslash", cfg, `alice\`, "alicepw"},
		{"escaped star", cfg, `\2a`, "alicepw"},
		{"escaped alice", cfg, `\61lice`, "alicepw"},
		{"DN as username", cfg, s.UserDN("alice"), "alicepw"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, err := authenticate(t, tc.cfg, tc.username, tc.password)
			wantRefused(t, err)
		})
	}

	t.Run("anonymous search sees nothing", func(t *testing.T) {
		// The ACL hides everything from anonymous users: slapd answers
		// noSuchObject. That is a configuration problem, not a refusal.
		c := cfg
		c.BindDN, c.BindPassword = "", ""
		_, err := authenticate(t, c, "alice", "alicepw")
		wantUnavailable(t, err)
		if !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			t.Errorf("err = %v, want noSuchObject (32)", err)
		}
	})
	t.Run("wrong service password", func(t *testing.T) {
		c := cfg
		c.BindPassword = "not-svcpw"
		_, err := authenticate(t, c, "alice", "alicepw")
		wantUnavailable(t, err)
		if err := Ping(context.Background(), c); err == nil || errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("Ping with a wrong service password: %v", err)
		}
	})
	t.Run("unknown service account", func(t *testing.T) {
		c := cfg
		c.BindDN = "cn=nobody," + s.BaseDN
		_, err := authenticate(t, c, "alice", "alicepw")
		wantUnavailable(t, err)
	})
	t.Run("user base does not exist", func(t *testing.T) {
		c := cfg
		c.UserBase = "ou=nowhere," + s.BaseDN
		_, err := authenticate(t, c, "alice", "alicepw")
		wantUnavailable(t, err)
	})
	t.Run("Ping", func(t *testing.T) {
		if err := Ping(context.Background(), cfg); err != nil {
			t.Errorf("Ping: %v", err)
		}
		anon := cfg
		anon.BindDN, anon.BindPassword = "", ""
		if err := Ping(context.Background(), anon); err != nil {
			t.Errorf("Ping anonymous: %v", err)
		}
	})
}

// TestSeveralEntries: a filter that matches more than the user must never
// pick one of the entries.
func TestSeveralEntries(t *testing.T) {
	t.Parallel()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{})
	for _, filter := range []string{
		"(|(uid={username})(uid=bob))",                   // two entries: result 0, 2 entries
		"(|(uid={username})(objectClass=inetOrgPerson))", // three: the size limit (2) is exceeded
		"(|(uid={username})(uid={username}x)(mail=*))",   // every user with a mail
	} {
		t.Run(filter, func(t *testing.T) {
			cfg := config(s)
			cfg.UserFilter = filter
			_, err := authenticate(t, cfg, "alice", "alicepw")
			wantRefused(t, err)
		})
	}
	t.Run("control: one entry", func(t *testing.T) {
		cfg := config(s)
		cfg.UserFilter = "(&(objectClass=inetOrgPerson)(|(uid={username})(mail={username})))"
		for _, login := range []string{"alice", "alice@example.test"} {
			e, err := authenticate(t, cfg, login, "alicepw")
			if err != nil || e.Username != "alice" {
				t.Errorf("login %q: %+v, %v", login, e, err)
			}
		}
	})
}

// TestEmptyPasswordVulnerableServer uses a server with "allow
// bind_anon_dn", where a DN with an empty password binds "successfully"
// (as anonymous). The fixture is first shown to be vulnerable.
func TestEmptyPasswordVulnerableServer(t *testing.T) {
	t.Parallel()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{AllowBindAnonDN: true})

	t.Run("fixture is vulnerable", func(t *testing.T) {
		c, err := ldap.DialURL(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetTimeout(5 * time.Second)
		for _, dn := range []string{s.UserDN("alice"), s.UserDN("nosuchuser")} {
			if err := c.UnauthenticatedBind(dn); err != nil {
				t.Fatalf("UnauthenticatedBind(%s) = %v: the fixture is not the vulnerable server", dn, err)
			}
			who, err := c.WhoAmI(nil)
			if err != nil || who.AuthzID != "" {
				t.Errorf("after UnauthenticatedBind(%s): WhoAmI %+v, %v; want anonymous", dn, who, err)
			}
		}
		if _, err := c.SimpleBind(&ldap.SimpleBindRequest{Username: s.UserDN("alice"), AllowEmptyPassword: true}); err != nil {
			t.Errorf("SimpleBind(alice, \"\", AllowEmptyPassword) = %v, want success", err)
		}
	})

	cfg := config(s)
	for _, username := range []string{"alice", "bob", "nosuchuser", ""} {
		t.Run("empty password "+username, func(t *testing.T) {
			_, err := authenticate(t, cfg, username, "")
			wantRefused(t, err)
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		_, err := authenticate(t, cfg, "alice", "wrong")
		wantRefused(t, err)
	})
	t.Run("right password", func(t *testing.T) {
		e, err := authenticate(t, cfg, "alice", "alicepw")
		if err != nil || e.Username != "alice" {
			t.Errorf("alice: %+v, %v", e, err)
		}
	})
}

// TestRefusedBeforeIO: the configuration points at a closed port, so
// anything that reached the network would be a connection error.
func TestRefusedBeforeIO(t *testing.T) {
	t.Parallel()
	cfg := Config{
		Name: "closed", URL: "ldap://" + closedAddr(t), BindDN: "cn=svc", BindPassword: "svcpw",
		UserBase: "ou=people", UserFilter: "(uid={username})", Timeout: time.Second,
	}
	long := strings.Repeat("a", MaxUsernameLen+1)
	cases := []struct{ name, username, password string }{
		{"empty password", "alice", ""},
		{"empty username", "", "pw"},
		{"empty both", "", ""},
		{"long username", long, "pw"},
		{"long password", "alice", strings.Repeat("p", MaxPasswordLen+1)},
		{"NUL", "alice\x00", "pw"},
		{"NUL inside", "al\x00ice", "pw"},
		{"newline", "alice\n", "pw"},
		{"carriage return", "alice\r", "pw"},
		{"tab", "al\tice", "pw"},
		{"escape", "\x1b[31malice", "pw"},
		{"DEL", "alice\x7f", "pw"},
		{"C1 control", "alice\u0085", "pw"},
		{"invalid UTF-8", "alice\xff", "pw"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := authenticate(t, cfg, tc.username, tc.password)
			if err != ErrInvalidCredentials {
				t.Errorf("err = %v, want ErrInvalidCredentials itself (no I/O)", err)
			}
		})
	}
	t.Run("control: acceptable credentials reach the network", func(t *testing.T) {
		_, err := authenticate(t, cfg, strings.Repeat("a", MaxUsernameLen), strings.Repeat("p", MaxPasswordLen))
		wantUnavailable(t, err)
		var op *net.OpError
		if !errors.As(err, &op) {
			t.Errorf("err = %v, want a dial error", err)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	base := Config{
		Name: "bad", URL: "ldap://" + closedAddr(t), BindDN: "cn=svc", BindPassword: "svcpw",
		UserBase: "ou=people", UserFilter: "(uid={username})", Timeout: time.Second,
	}
	cases := []struct {
		name string
		edit func(*Config)
	}{
		{"StartTLS with ldaps", func(c *Config) { c.URL = strings.Replace(c.URL, "ldap:", "ldaps:", 1); c.StartTLS = true }},
		{"http scheme", func(c *Config) { c.URL = "http://127.0.0.1:1" }},
		{"no host", func(c *Config) { c.URL = "ldap://" }},
		{"URL with a DN", func(c *Config) { c.URL += "/dc=example,dc=test" }},
		{"URL with user info", func(c *Config) { c.URL = "ldap://u:p@127.0.0.1:1" }},
		{"filter without {username}", func(c *Config) { c.UserFilter = "(uid=alice)" }},
		{"bind DN without password", func(c *Config) { c.BindPassword = "" }},
		{"broken user filter", func(c *Config) { c.UserFilter = "(uid={username}" }},
		{"broken group filter", func(c *Config) { c.GroupFilter = "(member={dn}" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.edit(&cfg)
			_, err := authenticate(t, cfg, "alice", "alicepw")
			wantUnavailable(t, err)
			var op *net.OpError
			if errors.As(err, &op) {
				t.Errorf("err = %v: a config error must be found before dialing", err)
			}
			if err := Ping(context.Background(), cfg); err == nil {
				t.Error("Ping accepted the configuration")
			}
		})
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{TLS: true})
	plain := testenv.StartSlapd(t, testenv.SlapdOptions{}) // no TLS at all

	ldaps := config(s)
	ldaps.URL = s.LDAPSURL
	startTLS := config(s)
	startTLS.StartTLS = true
	noTLS := config(plain)
	noTLS.StartTLS = true

	emptyPool := func(c Config) Config { c.RootCAs = x509.NewCertPool(); return c }
	systemRoots := func(c Config) Config { c.RootCAs = nil; return c }

	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"ldaps", ldaps, true},
		{"StartTLS", startTLS, true},
		{"ldaps, empty RootCAs", emptyPool(ldaps), false},
		{"StartTLS, empty RootCAs", emptyPool(startTLS), false},
		{"ldaps, system roots", systemRoots(ldaps), false},
		{"StartTLS, system roots", systemRoots(startTLS), false},
		{"StartTLS refused by a server without TLS", noTLS, false},
		{"ldaps URL to the plain port", func() Config { c := ldaps; c.URL = strings.Replace(s.URL, "ldap:", "ldaps:", 1); return c }(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := authenticate(t, tc.cfg, "alice", "alicepw")
			if tc.ok {
				if err != nil || !slices.Equal(e.Groups, []string{"hr-staff", "proxy-admins"}) {
					t.Errorf("alice: %+v, %v", e, err)
				}
				if err := Ping(context.Background(), tc.cfg); err != nil {
					t.Errorf("Ping: %v", err)
				}
				return
			}
			wantUnavailable(t, err)
			if err := Ping(context.Background(), tc.cfg); err == nil {
				t.Error("Ping succeeded")
			}
		})
	}
	t.Run("wrong password over TLS", func(t *testing.T) {
		for _, cfg := range []Config{ldaps, startTLS} {
			_, err := authenticate(t, cfg, "alice", "wrong")
			wantRefused(t, err)
		}
	})
}

// TestSpecialCharacters: a uid and group names that need escaping in DNs
// and filters still log in, and find the groups both ways.
func TestSpecialCharacters(t *testing.T) {
	t.Parallel()
	const uid = "o'brien(x)*"
	s := testenv.StartSlapd(t, testenv.SlapdOptions{Users: []testenv.SlapdUser{
		{UID: uid, CN: "Ó Brien", Mail: "ob@example.test", Password: "obpw", Groups: []string{"a+b", "r&d (eu)"}},
		{UID: "o'brien(y)", Password: "otherpw", Groups: []string{"other"}},
		{UID: "ünïcode", Password: "üpw", Groups: []string{"gröup"}},
	}})
	cfg := config(s)
	memberOf := cfg
	memberOf.GroupBase = ""
	for _, c := range []Config{cfg, memberOf} {
		e, err := authenticate(t, c, uid, "obpw")
		if err != nil {
			t.Fatalf("GroupBase %q: %v", c.GroupBase, err)
		}
		want := Entry{DN: s.UserDN(uid), Username: uid, Email: "ob@example.test", Groups: []string{"a+b", "r&d (eu)"}}
		if !equalEntry(e, want) {
			t.Errorf("GroupBase %q: %+v, want %+v", c.GroupBase, e, want)
		}
		e, err = authenticate(t, c, "ünïcode", "üpw")
		if err != nil || !slices.Equal(e.Groups, []string{"gröup"}) || e.Username != "ünïcode" {
			t.Errorf("GroupBase %q: ünïcode: %+v, %v", c.GroupBase, e, err)
		}
	}
	// The other user's password does not open this one, nor a wildcard.
	_, err := authenticate(t, cfg, uid, "otherpw")
	wantRefused(t, err)
	_, err = authenticate(t, cfg, "o'brien(*", "otherpw")
	wantRefused(t, err)
}

// TestBounded: a server that never answers, a stopped server and a
// cancelled context all end the call quickly.
func TestBounded(t *testing.T) {
	t.Parallel()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{})
	stopped := config(s)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	silent := blackhole(t)

	// Generous bounds: the point is "ends", not "ends at Timeout", on a
	// loaded CI machine too. Unbounded would mean minutes (TCP) or never.
	const timeout = 300 * time.Millisecond
	const bound = 10 * timeout
	mk := func(url string, startTLS bool) Config {
		return Config{Name: "slow", URL: url, StartTLS: startTLS, BindDN: "cn=svc", BindPassword: "svcpw",
			UserBase: "ou=people", UserFilter: "(uid={username})", Timeout: timeout}
	}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"stopped server", func() Config { c := stopped; c.Timeout = timeout; return c }()},
		{"silent ldap", mk("ldap://"+silent, false)},
		{"silent StartTLS", mk("ldap://"+silent, true)},
		{"silent ldaps handshake", mk("ldaps://"+silent, false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := authenticate(t, tc.cfg, "alice", "alicepw")
			wantUnavailable(t, err)
			if d := time.Since(start); d > bound {
				t.Errorf("took %s with Timeout %s", d, timeout)
			}
			start = time.Now()
			if err := Ping(context.Background(), tc.cfg); err == nil || time.Since(start) > bound {
				t.Errorf("Ping: %v after %s", err, time.Since(start))
			}
		})
	}

	t.Run("context deadline", func(t *testing.T) {
		for _, startTLS := range []bool{false, true} {
			cfg := mk("ldap://"+silent, startTLS)
			cfg.Timeout = time.Minute // only the context can end it
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			start := time.Now()
			_, err := Authenticate(ctx, cfg, "alice", "alicepw")
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("StartTLS %v: err = %v, want context.DeadlineExceeded", startTLS, err)
			}
			if d := time.Since(start); d > bound {
				t.Errorf("StartTLS %v: took %s", startTLS, d)
			}
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		live := testenv.StartSlapd(t, testenv.SlapdOptions{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Authenticate(ctx, config(live), "alice", "alicepw")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
}

// closedAddr returns 127.0.0.1:port where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ports, err := testenv.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(ports[0])
}

// blackhole returns the address of a listener that accepts connections
// and never answers (nor closes them until the test ends).
func blackhole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c) // held open, never read or written
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	return l.Addr().String()
}

func TestEndpoint(t *testing.T) {
	for _, tc := range []struct {
		url, host, addr string
		ldaps           bool
	}{
		{"ldap://127.0.0.1:3389", "127.0.0.1", "127.0.0.1:3389", false},
		{"ldaps://127.0.0.1:6636/", "127.0.0.1", "127.0.0.1:6636", true},
		{"ldap://dir.example.com", "dir.example.com", "dir.example.com:389", false},
		{"ldaps://dir.example.com", "dir.example.com", "dir.example.com:636", true},
		{"ldaps://[::1]:6636", "::1", "[::1]:6636", true},
	} {
		ep, err := Config{URL: tc.url}.endpoint()
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		if ep.host != tc.host || ep.addr != tc.addr || ep.ldaps != tc.ldaps {
			t.Errorf("%s: %+v, want host %q addr %q ldaps %v", tc.url, ep, tc.host, tc.addr, tc.ldaps)
		}
		// The certificate is checked against the URL's host.
		if tcfg := (Config{}).tlsConfig(ep); tcfg.ServerName != tc.host || tcfg.InsecureSkipVerify {
			t.Errorf("%s: tls.Config ServerName %q, InsecureSkipVerify %v", tc.url, tcfg.ServerName, tcfg.InsecureSkipVerify)
		}
	}
}

func TestLoginAttribute(t *testing.T) {
	for filter, want := range map[string]string{
		"(uid={username})":                                    "uid",
		"(sAMAccountName={username})":                         "sAMAccountName",
		"(&(objectClass=user)(userPrincipalName={username}))": "userPrincipalName",
		"(|(uid={username})(mail={username}))":                "uid",
		"(uid=x{username})":                                   "",
		"(uid~={username})":                                   "",
	} {
		if got := loginAttribute(filter); got != want {
			t.Errorf("loginAttribute(%q) = %q, want %q", filter, got, want)
		}
	}
}

// Config.Lookups: each attribute is read in the user search, as the
// service account; one value is captured, several values or none leave
// the lookup out.
func TestLookups(t *testing.T) {
	t.Parallel()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{Users: []testenv.SlapdUser{
		{UID: "ann", Password: "annpw", Attrs: [][2]string{{"departmentNumber", "sales"}, {"l", "Zürich"}}},
		{UID: "ben", Password: "benpw", Attrs: [][2]string{{"departmentNumber", "sales"}, {"departmentNumber", "board"}, {"l", "Oslo"}}},
		{UID: "cy", Password: "cypw"},
	}})
	cfg := config(s)
	cfg.Lookups = map[string]string{"department": "departmentNumber", "region": "L", "kind": "employeeType"}
	for _, tc := range []struct {
		user, pw string
		want     map[string]string
		multi    []string
	}{
		{"ann", "annpw", map[string]string{"department": "sales", "region": "Zürich"}, nil},
		{"ben", "benpw", map[string]string{"region": "Oslo"}, []string{"department"}},
		{"cy", "cypw", nil, nil},
	} {
		e, err := authenticate(t, cfg, tc.user, tc.pw)
		if err != nil {
			t.Fatalf("%s: %v", tc.user, err)
		}
		if !maps.Equal(e.Lookups, tc.want) || !slices.Equal(e.MultiValued, tc.multi) {
			t.Errorf("%s: lookups %q, multi-valued %q; want %q, %q", tc.user, e.Lookups, e.MultiValued, tc.want, tc.multi)
		}
	}
}
