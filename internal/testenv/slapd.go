package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// slapdHint tells a developer how to get slapd; it is the Skip/Fatal text.
const slapdHint = "apt-get install slapd ldap-utils (with debconf slapd/no_configuration=true); ./scripts/test.sh installs it"

// Bounds for starting and stopping slapd. Start and load take ~0.2 s.
const (
	slapdReadyTimeout = 10 * time.Second
	slapdStopTimeout  = 5 * time.Second
	slapdStartTries   = 3
)

// SlapdUser is a person entry uid=UID,ou=people,<base> (inetOrgPerson).
type SlapdUser struct {
	UID      string
	CN       string // default UID; sn is its last word
	Mail     string // omitted when empty
	Password string // stored as {SSHA}; no userPassword when empty
	// Groups are group names: each becomes cn=<name>,ou=groups,<base>, a
	// groupOfNames with this user as member.
	Groups []string
	// Attrs are more attribute values of the entry, in order, as
	// {attribute, value}: any inetOrgPerson attribute (departmentNumber,
	// l, employeeType, …); an attribute given twice gets two values.
	Attrs [][2]string
}

// SlapdOptions configures StartSlapd.
type SlapdOptions struct {
	// AllowBindAnonDN adds "allow bind_anon_dn": the server then accepts
	// a bind with any DN and an empty password as an anonymous bind, and
	// reports success. This is the classic vulnerable configuration that
	// login code must survive.
	AllowBindAnonDN bool
	// TLS generates a CA and a server certificate for 127.0.0.1/localhost
	// and makes slapd listen on ldaps:// too (ldap:// then offers
	// StartTLS). Slapd.RootCAs and Slapd.CAFile hold the CA.
	TLS bool
	// Users are the people to create; nil means DefaultUsers().
	Users []SlapdUser
}

// DefaultUsers returns the users StartSlapd creates when
// SlapdOptions.Users is nil: alice (hr-staff, proxy-admins), bob (no
// group) and carol (hr-staff); the password is the uid followed by "pw"
// and the mail <uid>@example.test.
func DefaultUsers() []SlapdUser {
	return []SlapdUser{
		{UID: "alice", CN: "Alice Admin", Mail: "alice@example.test", Password: "alicepw", Groups: []string{"hr-staff", "proxy-admins"}},
		{UID: "bob", CN: "Bob User", Mail: "bob@example.test", Password: "bobpw"},
		{UID: "carol", CN: "Carol Clerk", Mail: "carol@example.test", Password: "carolpw", Groups: []string{"hr-staff"}},
	}
}

// Slapd is a running OpenLDAP server, private to one test. Its tree:
//
//	dc=example,dc=test                    BaseDN
//	  cn=svc                              ServiceDN, may read everything
//	  ou=people   uid=<UID>               PeopleDN, inetOrgPerson (with memberOf)
//	  ou=groups   cn=<group>              GroupsDN, groupOfNames
//
// AdminDN is the rootdn; its password is random for every server.
type Slapd struct {
	URL      string         // ldap://127.0.0.1:PORT (StartTLS is available when TLS)
	LDAPSURL string         // ldaps://127.0.0.1:PORT2; "" unless SlapdOptions.TLS
	RootCAs  *x509.CertPool // the CA that signed the server certificate; nil unless TLS
	CAFile   string         // the same CA as a PEM file; "" unless TLS

	BaseDN          string
	PeopleDN        string
	GroupsDN        string
	AdminDN         string
	AdminPassword   string
	ServiceDN       string
	ServicePassword string

	Dir string // config, database and certificates

	log  *tailBuffer
	proc *child // the running slapd; nil before the first start
}

// StartSlapd starts a private slapd on free 127.0.0.1 ports, loads the
// users, and registers t.Cleanup to stop it. It skips the test (or fails
// it in CI) when slapd or ldapadd are not installed.
//
// slapd runs in the foreground (-d 256) as an exec.Cmd child rather than
// daemonized as in the shell recipe: the PID is the Cmd's own (no pidfile
// race), an early exit (a port taken, a config error) is noticed at once
// through Wait instead of at the readiness deadline, the log goes to a
// buffer printed on failure, and on Linux the child gets SIGKILL if the
// test binary dies before its cleanup runs.
func StartSlapd(t testing.TB, opts SlapdOptions) *Slapd {
	t.Helper()
	Need(t, "slapd", slapdHint)
	Need(t, "ldapadd", slapdHint)
	slapdPath, _ := lookTool("slapd")
	ldapaddPath, _ := lookTool("ldapadd")

	users := opts.Users
	if users == nil {
		users = DefaultUsers()
	}

	const base = "dc=example,dc=test"
	s := &Slapd{
		BaseDN:          base,
		PeopleDN:        "ou=people," + base,
		GroupsDN:        "ou=groups," + base,
		AdminDN:         "cn=admin," + base,
		AdminPassword:   randomHex(12),
		ServiceDN:       "cn=svc," + base,
		ServicePassword: "svcpw",
		Dir:             t.TempDir(),
		log:             &tailBuffer{max: 256 << 10},
	}
	if strings.ContainsAny(s.Dir, "\"\\\n") {
		t.Fatalf("testenv: temp dir %q cannot be quoted in slapd.conf", s.Dir)
	}
	ldif, err := s.dataLDIF(users)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	dataFile := filepath.Join(s.Dir, "data.ldif")
	pwFile := filepath.Join(s.Dir, "admin.pw")
	if err := os.WriteFile(dataFile, ldif, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pwFile, []byte(s.AdminPassword), 0o600); err != nil {
		t.Fatal(err)
	}
	var certs *testCerts
	if opts.TLS {
		if certs, err = writeTestCerts(s.Dir); err != nil {
			t.Fatalf("testenv: certificates: %v", err)
		}
		s.RootCAs, s.CAFile = certs.pool, certs.caFile
	}
	if err := os.Mkdir(filepath.Join(s.Dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(s.Dir, "slapd.conf")
	if err := os.WriteFile(conf, []byte(s.config(opts, certs)), 0o600); err != nil {
		t.Fatal(err)
	}

	// Registered before the first start (after t.TempDir, so it runs
	// before the directory is removed): a t.Fatal below still stops slapd.
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})

	// A free port is one nothing listened on a moment ago (FreePorts);
	// another process may take it before slapd binds, so a bind failure
	// is retried with new ports.
	nports := 1
	if opts.TLS {
		nports = 2
	}
	for try := 1; ; try++ {
		ports, err := FreePorts(nports)
		if err != nil {
			t.Fatalf("testenv: free port: %v", err)
		}
		s.URL = "ldap://127.0.0.1:" + strconv.Itoa(ports[0])
		listen := s.URL + "/"
		if opts.TLS {
			s.LDAPSURL = "ldaps://127.0.0.1:" + strconv.Itoa(ports[1])
			listen += " " + s.LDAPSURL + "/"
		}
		err = s.start(slapdPath, listen, conf)
		if err == nil {
			break
		}
		if errors.Is(err, errPortInUse) && try < slapdStartTries {
			t.Logf("testenv: slapd: %v; retrying with other ports", err)
			s.log.Reset()
			continue
		}
		t.Fatalf("testenv: slapd: %v\n--- slapd log ---\n%s", err, s.Log())
	}

	// Loaded online, not with slapadd: slapadd bypasses the memberof
	// overlay, so users would have no memberOf.
	ctx, cancel := context.WithTimeout(context.Background(), slapdReadyTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, ldapaddPath, "-x", "-H", s.URL, "-D", s.AdminDN, "-y", pwFile, "-f", dataFile)
	// LDAPNOINIT: ignore ~/.ldaprc and /etc/ldap/ldap.conf (URI, TLS_*).
	cmd.Env = append(os.Environ(), "LDAPNOINIT=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testenv: ldapadd: %v\n%s\n--- slapd log ---\n%s", err, out, s.Log())
	}
	return s
}

// errPortInUse marks a start that failed because a port was taken.
var errPortInUse = errors.New("address already in use")

// start runs slapd and waits until it answers an admin bind. The admin
// password is random per server, so a probe answered by another slapd
// that took our port does not count as ready.
func (s *Slapd) start(slapdPath, listen, conf string) error {
	var err error
	s.proc, err = startChild(slapdPath, []string{"-d", "256", "-h", listen, "-f", conf}, s.log, slapdReadyTimeout, s.probe)
	return err
}

// probe binds as the rootdn over ldap://. Its timeout is short so that
// the loop in start notices an exit soon even when something else that
// does not answer holds the port; a slow server just costs another try.
func (s *Slapd) probe() error {
	const timeout = 250 * time.Millisecond
	c, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: timeout}))
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetTimeout(timeout)
	return c.Bind(s.AdminDN, s.AdminPassword)
}

// Stop terminates slapd (SIGTERM, then SIGKILL) and waits for it to exit,
// within bounds. It is idempotent; t.Cleanup calls it too. Use it to test
// what happens when the directory goes away.
func (s *Slapd) Stop() error { return s.proc.stop(syscall.SIGTERM, slapdStopTimeout) }

// Log returns the end of slapd's log (stderr at debug level 256, "stats":
// connections, binds, searches and their results).
func (s *Slapd) Log() string { return s.log.String() }

// UserDN returns the DN of the user with the given uid.
func (s *Slapd) UserDN(uid string) string {
	return "uid=" + ldap.EscapeDN(uid) + "," + s.PeopleDN
}

// GroupDN returns the DN of the group with the given name.
func (s *Slapd) GroupDN(name string) string {
	return "cn=" + ldap.EscapeDN(name) + "," + s.GroupsDN
}

// config returns slapd.conf. Paths are quoted; StartSlapd has checked that
// they need no escaping.
func (s *Slapd) config(opts SlapdOptions, certs *testCerts) string {
	var b strings.Builder
	schemaDir := firstDir("/etc/ldap/schema", "/etc/openldap/schema", "/usr/local/etc/openldap/schema")
	for _, f := range []string{"core", "cosine", "nis", "inetorgperson"} {
		fmt.Fprintf(&b, "include %s\n", quote(filepath.Join(schemaDir, f+".schema")))
	}
	fmt.Fprintf(&b, "pidfile %s\nargsfile %s\n", quote(filepath.Join(s.Dir, "slapd.pid")), quote(filepath.Join(s.Dir, "slapd.args")))
	// Debian builds back_mdb and memberof as modules; other builds may
	// link them in, in which case there is nothing to load.
	modDir := firstDir("/usr/lib/ldap", "/usr/lib64/openldap", "/usr/lib/openldap", "/usr/libexec/openldap", "/usr/local/libexec/openldap")
	var loads []string
	for _, m := range []string{"back_mdb", "memberof"} {
		if hasModule(modDir, m) {
			loads = append(loads, m)
		}
	}
	if len(loads) > 0 {
		fmt.Fprintf(&b, "modulepath %s\n", quote(modDir))
		for _, m := range loads {
			fmt.Fprintf(&b, "moduleload %s\n", m)
		}
	}
	if opts.AllowBindAnonDN {
		b.WriteString("allow bind_anon_dn\n")
	}
	if certs != nil {
		fmt.Fprintf(&b, "TLSCACertificateFile %s\nTLSCertificateFile %s\nTLSCertificateKeyFile %s\n",
			quote(certs.caFile), quote(certs.certFile), quote(certs.keyFile))
	}
	fmt.Fprintf(&b, `database mdb
suffix %s
rootdn %s
rootpw %s
directory %s
maxsize 16777216
index objectClass eq
index uid,member,mail eq
overlay memberof
access to attrs=userPassword
	by self write
	by anonymous auth
	by * none
access to *
	by dn.exact=%s read
	by users read
	by * none
`, quote(s.BaseDN), quote(s.AdminDN), quote(s.AdminPassword), quote(filepath.Join(s.Dir, "db")), quote(s.ServiceDN))
	return b.String()
}

// dataLDIF returns the entries to load: the base, the service account,
// the two OUs, the users and their groups. A groupOfNames must have a
// member, so a group exists only when at least one user lists it.
func (s *Slapd) dataLDIF(users []SlapdUser) ([]byte, error) {
	var b bytes.Buffer
	entry := func(attrs ...string) {
		for i := 0; i+1 < len(attrs); i += 2 {
			ldifLine(&b, attrs[i], attrs[i+1])
		}
		b.WriteByte('\n')
	}
	entry("dn", s.BaseDN, "objectClass", "top", "objectClass", "dcObject", "objectClass", "organization",
		"o", "Example", "dc", "example")
	entry("dn", s.ServiceDN, "objectClass", "organizationalRole", "objectClass", "simpleSecurityObject",
		"cn", "svc", "userPassword", ssha(s.ServicePassword))
	entry("dn", s.PeopleDN, "objectClass", "organizationalUnit", "ou", "people")
	entry("dn", s.GroupsDN, "objectClass", "organizationalUnit", "ou", "groups")

	members := map[string][]string{}
	seen := map[string]bool{}
	for _, u := range users {
		if u.UID == "" {
			return nil, errors.New("SlapdUser with an empty UID")
		}
		if seen[u.UID] {
			return nil, fmt.Errorf("duplicate SlapdUser %q", u.UID)
		}
		seen[u.UID] = true
		cn := u.CN
		if cn == "" {
			cn = u.UID
		}
		sn := cn
		if f := strings.Fields(cn); len(f) > 0 {
			sn = f[len(f)-1]
		}
		attrs := []string{"dn", s.UserDN(u.UID), "objectClass", "inetOrgPerson", "uid", u.UID, "cn", cn, "sn", sn}
		if u.Mail != "" {
			attrs = append(attrs, "mail", u.Mail)
		}
		if u.Password != "" {
			attrs = append(attrs, "userPassword", ssha(u.Password))
		}
		for _, a := range u.Attrs {
			attrs = append(attrs, a[0], a[1])
		}
		entry(attrs...)
		for _, g := range u.Groups {
			if g == "" {
				return nil, fmt.Errorf("SlapdUser %q: empty group name", u.UID)
			}
			if !slices.Contains(members[g], s.UserDN(u.UID)) {
				members[g] = append(members[g], s.UserDN(u.UID))
			}
		}
	}
	names := make([]string, 0, len(members))
	for g := range members {
		names = append(names, g)
	}
	slices.Sort(names)
	for _, g := range names {
		attrs := []string{"dn", s.GroupDN(g), "objectClass", "groupOfNames", "cn", g}
		for _, m := range members[g] {
			attrs = append(attrs, "member", m)
		}
		entry(attrs...)
	}
	return b.Bytes(), nil
}

// quote quotes a slapd.conf value. No value passed here contains '"',
// '\' or a newline (StartSlapd checks the directory).
func quote(v string) string { return `"` + v + `"` }

// ldifLine writes "attr: value", or "attr:: base64" when the value is not
// an LDIF SAFE-STRING (RFC 2849).
func ldifLine(b *bytes.Buffer, attr, value string) {
	safe := true
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c == 0 || c == '\n' || c == '\r' || c >= 0x80 ||
			(i == 0 && (c == ' ' || c == ':' || c == '<')) {
			safe = false
			break
		}
	}
	if safe && strings.HasSuffix(value, " ") {
		safe = false
	}
	if safe {
		fmt.Fprintf(b, "%s: %s\n", attr, value)
		return
	}
	fmt.Fprintf(b, "%s:: %s\n", attr, base64.StdEncoding.EncodeToString([]byte(value)))
}

// ssha returns password as an OpenLDAP {SSHA} userPassword value, as
// slappasswd makes it.
func ssha(password string) string {
	salt := make([]byte, 8)
	_, _ = rand.Read(salt)
	h := sha1.New()
	h.Write([]byte(password))
	h.Write(salt)
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h.Sum(nil), salt...))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// firstDir returns the first of dirs that exists, or the first one.
func firstDir(dirs ...string) string {
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
	}
	return dirs[0]
}

func hasModule(dir, name string) bool {
	for _, ext := range []string{".la", ".so"} {
		if _, err := os.Stat(filepath.Join(dir, name+ext)); err == nil {
			return true
		}
	}
	return false
}

// tailBuffer is a goroutine-safe writer that keeps the last max bytes.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

func (b *tailBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = b.buf[:0]
}
