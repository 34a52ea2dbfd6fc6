// Package ldapauth checks a username and password against an LDAP
// directory (OpenLDAP, Active Directory, ...) and returns who the user is
// and which groups they are in.
//
// The login is the usual search-then-bind:
//
//  1. refuse, before any network I/O, an empty or over-long password and
//     an empty, over-long, non-UTF-8 or control-character username;
//  2. connect (ldaps://, or ldap:// with optional StartTLS; certificates
//     are always verified) and bind as the service account (or stay
//     anonymous when BindDN is "");
//  3. search UserBase with UserFilter, {username} replaced by the
//     filter-escaped username; anything but exactly one entry is a
//     refusal;
//  4. bind as that entry's DN with the password (result 49 is a
//     refusal), then ask WhoAmI: an empty (anonymous) identity is a
//     refusal, which defeats servers that turn a bind into an anonymous
//     one;
//  5. rebind as the service account and search GroupBase for the groups
//     whose GroupFilter matches the filter-escaped user DN (or, with no
//     GroupBase, read the entry's memberOf).
//
// The attributes of Config.Lookups are read in step 3's search, as the
// service account: an attribute with exactly one value gives its lookup
// that value (Entry.Lookups); one with several values gives none
// (Entry.MultiValued), so that the lookup is absent rather than one value
// picked from a set the directory does not order.
//
// Every refusal is the same error, ErrInvalidCredentials, so that callers
// cannot reveal which step refused (user enumeration). Any other error
// means the directory could not decide: it is down, slow, misconfigured or
// untrusted (TLS), and the caller should answer 503, not 401. Errors never
// contain the password, nor the username (which users sometimes type
// their password into).
package ldapauth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"
)

// Defaults for the zero values of Config fields.
const (
	DefaultGroupFilter = "(|(member={dn})(uniqueMember={dn}))"
	DefaultGroupAttr   = "cn"
	DefaultEmailAttr   = "mail"
	DefaultTimeout     = 5 * time.Second
)

// Limits on what Authenticate sends to the directory.
const (
	MaxUsernameLen = 256  // bytes
	MaxPasswordLen = 1024 // bytes; longer passwords are refused, not truncated
)

// ErrInvalidCredentials is the one error for a refused login: wrong or
// empty password, unknown user, a username that matches zero or several
// entries, a username that is not acceptable, an anonymous identity after
// the bind. Test for it with errors.Is.
var ErrInvalidCredentials = errors.New("ldap: invalid credentials")

// Config is one `ldap "name"` block, already validated by the config package.
type Config struct {
	Name         string
	URL          string         // ldap://host:port or ldaps://host:port
	StartTLS     bool           // upgrade ldap:// with StartTLS (refuse if the server cannot)
	RootCAs      *x509.CertPool // nil = system roots
	BindDN       string         // service account; "" = search anonymously
	BindPassword string
	UserBase     string
	// UserFilter is e.g. "(uid={username})" or, for Active Directory,
	// "(sAMAccountName={username})"; {username} is replaced by the
	// username escaped with ldap.EscapeFilter.
	UserFilter string
	GroupBase  string // "" = groups from the user entry's memberOf
	// GroupFilter selects the user's groups; {dn} is replaced by the
	// escaped user DN. Default DefaultGroupFilter. For nested Active
	// Directory groups use "(member:1.2.840.113556.1.4.1941:={dn})".
	GroupFilter string
	GroupAttr   string        // group name attribute, default "cn"
	EmailAttr   string        // default "mail"
	Timeout     time.Duration // per network operation and dial, default 5s
	// Lookups maps lookup names to the attributes of the user's entry
	// whose value they capture; nil for none.
	Lookups map[string]string
}

// Entry is an authenticated user.
type Entry struct {
	DN string
	// Username is the directory's own value of the attribute UserFilter
	// compares {username} with (the first "(attr={username})" in it): the
	// value equal to the login name ignoring case, or the attribute's only
	// value. So "ALICE" or "alice " (both match uid=alice in LDAP) log in
	// as "alice", and policies compare one canonical name. When there is
	// no such attribute or value, it is the login name as given.
	Username string
	Email    string // first EmailAttr value, "" if none
	// Groups are group names, sorted and without duplicates: the
	// GroupAttr values of the groups found under GroupBase, or, when
	// GroupBase is "", the first RDN value of each memberOf DN.
	Groups []string
	// Lookups holds, by lookup name, the value of each Config.Lookups
	// attribute the entry has exactly one value of (as the directory
	// returned it: the caller checks that it is text); nil for none.
	Lookups map[string]string
	// MultiValued names, sorted, the lookups whose attribute has several
	// values: they are left out of Lookups.
	MultiValued []string
}

// Authenticate checks username and password against the directory and
// returns the user's entry. A refused login is ErrInvalidCredentials; any
// other error means the directory could not be asked (see the package
// documentation). Every network operation is bounded by cfg.Timeout, and
// the connection is closed as soon as ctx is done.
func Authenticate(ctx context.Context, cfg Config, username, password string) (Entry, error) {
	// Before anything else, and so before any I/O: an empty password would
	// be an unauthenticated bind, which some servers report as a success.
	if !acceptable(username, password) {
		return Entry{}, ErrInvalidCredentials
	}
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return Entry{}, err
	}
	// check compiled the filter with a placeholder; an escaped username is
	// a valid assertion value wherever the placeholder was one.
	userFilter := strings.ReplaceAll(cfg.UserFilter, "{username}", ldap.EscapeFilter(username))

	s, err := open(ctx, cfg)
	if err != nil {
		return Entry{}, err
	}
	defer s.close()
	if err := s.serviceBind(); err != nil {
		return Entry{}, err
	}

	// 3. The user's entry, exactly one.
	loginAttr := loginAttribute(cfg.UserFilter)
	attrs := []string{cfg.EmailAttr}
	if loginAttr != "" {
		attrs = append(attrs, loginAttr)
	}
	if cfg.GroupBase == "" {
		attrs = append(attrs, "memberOf")
	}
	for _, a := range cfg.Lookups {
		if !slices.ContainsFunc(attrs, func(b string) bool { return strings.EqualFold(a, b) }) {
			attrs = append(attrs, a)
		}
	}
	req := ldap.NewSearchRequest(cfg.UserBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, cfg.timeLimit(), false, userFilter, attrs, nil)
	req.EnforceSizeLimit = true
	var res *ldap.SearchResult
	err = s.do("search user", func() (err error) {
		res, err = s.conn.Search(req)
		return err
	})
	switch {
	case errors.Is(err, ldap.ErrSizeLimitExceeded) || ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		return Entry{}, ErrInvalidCredentials // several entries
	case err != nil:
		return Entry{}, err
	case len(res.Entries) != 1 || res.Entries[0].DN == "":
		// An empty DN would make the next bind anonymous.
		return Entry{}, ErrInvalidCredentials
	}
	user := res.Entries[0]

	// 4. The password, as that DN.
	err = s.do("bind as user", func() error { return s.conn.Bind(user.DN, password) })
	if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		return Entry{}, ErrInvalidCredentials
	}
	if err != nil {
		return Entry{}, err
	}
	// A server may accept a bind and still treat the session as anonymous
	// (RFC 4513 unauthenticated binds, "allow bind_anon_dn"). WhoAmI tells.
	// Servers without WhoAmI answer protocolError (RFC 4511 4.12); then the
	// successful bind is accepted, which is safe only because the password
	// is known to be non-empty, so the bind was not an unauthenticated one.
	var who *ldap.WhoAmIResult
	err = s.do("whoami", func() (err error) {
		who, err = s.conn.WhoAmI(nil)
		return err
	})
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultProtocolError):
		// WhoAmI not supported.
	case err != nil:
		return Entry{}, err
	case who.AuthzID == "":
		return Entry{}, ErrInvalidCredentials
	}

	e := Entry{
		DN:       user.DN,
		Username: canonicalUsername(user, loginAttr, username),
		Email:    user.GetEqualFoldAttributeValue(cfg.EmailAttr),
	}
	e.Lookups, e.MultiValued = lookups(user, cfg.Lookups)

	// 5. Groups, read as the service account, not as the user.
	if cfg.GroupBase == "" {
		for _, v := range user.GetEqualFoldAttributeValues("memberOf") {
			name, err := firstRDNValue(v)
			if err != nil {
				// Fail closed: a group that cannot be named could be one a
				// policy denies.
				return Entry{}, cfg.errorf("memberOf: %w", err)
			}
			e.Groups = append(e.Groups, name)
		}
	} else {
		if err := s.serviceBind(); err != nil {
			return Entry{}, err
		}
		filter := strings.ReplaceAll(cfg.GroupFilter, "{dn}", ldap.EscapeFilter(user.DN))
		req := ldap.NewSearchRequest(cfg.GroupBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			0, cfg.timeLimit(), false, filter, []string{cfg.GroupAttr}, nil)
		var res *ldap.SearchResult
		if err := s.do("search groups", func() (err error) {
			res, err = s.conn.Search(req)
			return err
		}); err != nil {
			return Entry{}, err
		}
		for _, g := range res.Entries {
			e.Groups = append(e.Groups, g.GetEqualFoldAttributeValues(cfg.GroupAttr)...)
		}
	}
	slices.Sort(e.Groups)
	e.Groups = slices.Compact(e.Groups)
	return e, nil
}

// Ping connects to the directory (with StartTLS when configured) and binds
// as the service account, or anonymously when BindDN is "". It is the
// readiness and `validate` check: nil means Authenticate can reach and use
// the directory.
func Ping(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return err
	}
	s, err := open(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.close()
	return s.serviceBind()
}

// acceptable reports whether the credentials may be sent at all.
func acceptable(username, password string) bool {
	if password == "" || len(password) > MaxPasswordLen {
		return false
	}
	if username == "" || len(username) > MaxUsernameLen || !utf8.ValidString(username) {
		return false
	}
	return !strings.ContainsFunc(username, unicode.IsControl) // NUL, CR, LF, DEL, C1, ...
}

func (cfg Config) withDefaults() Config {
	if cfg.GroupFilter == "" {
		cfg.GroupFilter = DefaultGroupFilter
	}
	if cfg.GroupAttr == "" {
		cfg.GroupAttr = DefaultGroupAttr
	}
	if cfg.EmailAttr == "" {
		cfg.EmailAttr = DefaultEmailAttr
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return cfg
}

// check catches the configuration mistakes that would make a login unsafe
// or meaningless. The config package reports them to the operator first.
func (cfg Config) check() error {
	if _, err := cfg.endpoint(); err != nil {
		return err
	}
	if !strings.Contains(cfg.UserFilter, "{username}") {
		return cfg.errorf("user filter %q does not contain {username}", cfg.UserFilter)
	}
	// Compiled with placeholders, so that errors (which may quote the
	// filter) never contain a username.
	if _, err := ldap.CompileFilter(strings.ReplaceAll(cfg.UserFilter, "{username}", "x")); err != nil {
		return cfg.errorf("user filter: %w", err)
	}
	if cfg.BindDN != "" && cfg.BindPassword == "" {
		// It would be an unauthenticated bind: anonymous at best.
		return cfg.errorf("bind DN without a bind password")
	}
	if _, err := ldap.CompileFilter(strings.ReplaceAll(cfg.GroupFilter, "{dn}", "x")); err != nil {
		return cfg.errorf("group filter: %w", err)
	}
	return nil
}

// endpoint is where and how to connect.
type endpoint struct {
	host  string // for the certificate check
	addr  string // host:port
	ldaps bool
}

func (cfg Config) endpoint() (endpoint, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return endpoint{}, cfg.errorf("url: %w", err)
	}
	var ep endpoint
	port := u.Port()
	switch u.Scheme {
	case "ldap":
		if port == "" {
			port = ldap.DefaultLdapPort
		}
	case "ldaps":
		if cfg.StartTLS {
			return endpoint{}, cfg.errorf("StartTLS with an ldaps:// URL")
		}
		if port == "" {
			port = ldap.DefaultLdapsPort
		}
		ep.ldaps = true
	default:
		return endpoint{}, cfg.errorf("url %q: scheme must be ldap or ldaps", cfg.URL)
	}
	if u.Hostname() == "" || u.User != nil || u.Opaque != "" || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.Fragment != "" {
		return endpoint{}, cfg.errorf("url %q: want ldap[s]://host[:port]", cfg.URL)
	}
	ep.host = u.Hostname()
	ep.addr = net.JoinHostPort(ep.host, port)
	return ep, nil
}

func (cfg Config) tlsConfig(ep endpoint) *tls.Config {
	return &tls.Config{
		RootCAs:    cfg.RootCAs,
		ServerName: ep.host, // an IP address is checked against IP SANs
		MinVersion: tls.VersionTLS12,
	}
}

// timeLimit is the server-side search time limit, in whole seconds.
func (cfg Config) timeLimit() int {
	return int(math.Ceil(cfg.Timeout.Seconds()))
}

// errorf returns an error that names this directory.
func (cfg Config) errorf(format string, args ...any) error {
	return fmt.Errorf("ldap %q: "+format, append([]any{cfg.Name}, args...)...)
}

// session is one connection to the directory.
type session struct {
	ctx         context.Context
	cfg         Config
	conn        *ldap.Conn
	stopCtxWait func() bool
}

// open connects, with TLS or StartTLS as configured. The connection is
// closed when ctx is done.
func open(ctx context.Context, cfg Config) (*session, error) {
	ep, err := cfg.endpoint()
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	fail := func(step string, err error) error {
		if ctx.Err() == nil && dctx.Err() != nil {
			// Our Timeout, not the caller's context: do not let the
			// error match context.DeadlineExceeded.
			return cfg.errorf("%s: no answer within %s: %v", step, cfg.Timeout, err)
		}
		return cfg.wrap(ctx, step, err)
	}
	nc, err := (&net.Dialer{}).DialContext(dctx, "tcp", ep.addr)
	if err != nil {
		return nil, fail("connect", err)
	}
	if ep.ldaps {
		tc := tls.Client(nc, cfg.tlsConfig(ep))
		if err := tc.HandshakeContext(dctx); err != nil {
			nc.Close()
			return nil, fail("TLS handshake", err)
		}
		nc = tc
	}
	conn := ldap.NewConn(nc, ep.ldaps)
	conn.Start()
	conn.SetTimeout(cfg.Timeout)
	s := &session{ctx: ctx, cfg: cfg, conn: conn}
	s.stopCtxWait = context.AfterFunc(ctx, func() { conn.Close() })

	if cfg.StartTLS {
		// Refused by the server (no TLS configured) is an error too: never
		// fall back to plain text.
		if err := s.do("StartTLS", func() error { return conn.StartTLS(cfg.tlsConfig(ep)) }); err != nil {
			s.close()
			return nil, err
		}
	}
	return s, nil
}

func (s *session) close() {
	s.stopCtxWait()
	s.conn.Close()
}

// serviceBind binds as the service account, or anonymously when there is
// none (an anonymous bind also drops a previous user bind).
func (s *session) serviceBind() error {
	if s.cfg.BindDN == "" {
		return s.do("anonymous bind", func() error { return s.conn.UnauthenticatedBind("") })
	}
	return s.do("bind as service account", func() error { return s.conn.Bind(s.cfg.BindDN, s.cfg.BindPassword) })
}

// do runs one operation under a watchdog that closes the connection after
// Timeout. go-ldap's request timeout (SetTimeout) already bounds waiting
// for a response; the watchdog also bounds what it does not: the TLS
// handshake inside StartTLS and a write the server does not read.
func (s *session) do(step string, op func() error) error {
	var fired atomic.Bool
	t := time.AfterFunc(s.cfg.Timeout, func() {
		fired.Store(true)
		s.conn.Close()
	})
	err := op()
	t.Stop()
	if err == nil {
		return nil
	}
	if fired.Load() {
		return s.cfg.errorf("%s: no answer within %s: %w", step, s.cfg.Timeout, err)
	}
	return s.cfg.wrap(s.ctx, step, err)
}

// wrap names the directory and the step, and says when the cause was the
// context rather than the directory. Result codes stay visible to
// ldap.IsErrorWithCode.
func (cfg Config) wrap(ctx context.Context, step string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cfg.errorf("%s: %w: %w", step, cerr, err)
	}
	return cfg.errorf("%s: %w", step, err)
}

// loginAttribute returns attr from the first "(attr={username})" in
// filter, or "".
func loginAttribute(filter string) string {
	i := strings.Index(filter, "={username})")
	if i < 0 {
		return ""
	}
	j := strings.LastIndexByte(filter[:i], '(')
	if j < 0 {
		return ""
	}
	attr := filter[j+1 : i]
	if attr == "" || strings.ContainsFunc(attr, func(r rune) bool {
		return !(r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == ';' || r == '.'))
	}) {
		return ""
	}
	return attr
}

// canonicalUsername: see Entry.Username.
func canonicalUsername(user *ldap.Entry, attr, username string) string {
	if attr == "" {
		return username
	}
	values := user.GetEqualFoldAttributeValues(attr)
	for _, v := range values {
		if strings.EqualFold(v, username) {
			return v
		}
	}
	if len(values) == 1 {
		return values[0]
	}
	return username
}

// lookups reads the attributes of the lookups from the user's entry:
// see Entry.Lookups and Entry.MultiValued.
func lookups(user *ldap.Entry, attrs map[string]string) (map[string]string, []string) {
	var vals map[string]string
	var multi []string
	for name, attr := range attrs {
		vs := user.GetEqualFoldAttributeValues(attr)
		switch len(vs) {
		case 0:
		case 1:
			if vals == nil {
				vals = make(map[string]string, len(attrs))
			}
			vals[name] = vs[0]
		default:
			multi = append(multi, name)
		}
	}
	slices.Sort(multi)
	return vals, multi
}

// firstRDNValue returns "hr-staff" for "cn=hr-staff,ou=groups,...".
func firstRDNValue(dn string) (string, error) {
	d, err := ldap.ParseDN(dn)
	if err != nil {
		return "", err
	}
	if len(d.RDNs) == 0 || len(d.RDNs[0].Attributes) == 0 || d.RDNs[0].Attributes[0].Value == "" {
		return "", fmt.Errorf("DN %q has no name", dn)
	}
	return d.RDNs[0].Attributes[0].Value, nil
}
