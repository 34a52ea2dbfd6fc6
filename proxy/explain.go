package proxy

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy/authn"
	"github.com/gatehouse-dev/gatehouse/proxy/session"
)

// ExplainQuery is a request to explain (gatehouse explain, POST
// /admin/explain): who asks, as the proxy would establish it, and the
// request line.
type ExplainQuery struct {
	App        string   `json:"app,omitempty"`         // the app whose API key the request carries
	User       string   `json:"user,omitempty"`        // a user session: local user, or the directory user with Provider
	Admin      string   `json:"admin,omitempty"`       // an admin session
	LDAPGroups []string `json:"ldap_groups,omitempty"` // directory groups of an LDAP login (Provider: the ldap block)
	Provider   string   `json:"provider,omitempty"`    // an ldap or oauth block; "" or "local" for a local user
	// Lookups are the lookups the Provider block would capture at login
	// (its lookups: directory attributes, claims), by lookup name.
	Lookups map[string]string `json:"lookups,omitempty"`
	Method  string            `json:"method"`
	Target  string            `json:"target"` // the request target as sent: path, query, or absolute form
}

// ErrExplainQuery is the error of an ExplainQuery that names nobody
// gatehouse knows (the caller's mistake, not a refusal to explain).
var ErrExplainQuery = errors.New("explain")

// Explain explains q against snap, as the proxy would handle it: the
// target canonicalized by CanonicalTarget, the identity built by the
// authenticate stage's own functions (see ExplainCaller), then
// policy.Snapshot.Explain. A refusal before the decision (bad target, an
// expired key or inactive app at now, a session no longer valid) is an
// explanation too, with its status and reason.
func Explain(snap *policy.Snapshot, q ExplainQuery, now time.Time) (policy.Explanation, error) {
	if q.Method == "" || q.Target == "" {
		return policy.Explanation{}, fmt.Errorf("%w: a method and a target are required", ErrExplainQuery)
	}
	if q.App == "" && q.Admin == "" && (q.User != "" || q.Provider != "" || len(q.LDAPGroups) > 0 || len(q.Lookups) > 0) {
		return policy.Explanation{}, fmt.Errorf("%w: a user session needs its app", ErrExplainQuery)
	}
	cr, err := namedCredentials(snap, q, now)
	if err != nil {
		return policy.Explanation{}, err
	}
	if s := cr.sess; s != nil && s.Subject == "" && !s.Local {
		s.Subject = "(directory user)"
	}
	p, perr := CanonicalTarget(q.Method, q.Target, nil)
	if perr != nil {
		return policy.RefusedExplanation(q.Method, q.Target, perr.Status, perr.Reason), nil
	}
	var c policy.Caller
	if rt, routed := snap.Route(p); !routed || !rt.Upstream.Public() { // authenticate does not run on public routes
		var refusal *Error
		if c, refusal = cr.caller(snap); refusal != nil {
			return policy.RefusedExplanation(q.Method, p.Escaped, refusal.Status, refusal.Reason), nil
		}
	}
	return snap.Explain(q.Method, p, c), nil
}

// ExplainCaller is the caller the authenticate stage would establish for
// the credentials q names (its App, User, Admin, Provider, LDAPGroups and
// Lookups; not its request line) at now, and the session's directory
// groups; or the refusal the stage would answer (an expired key, an
// inactive app, a session no longer valid, no API key). gatehouse test
// builds its callers with it, Explain with the same two steps. An error
// wraps ErrExplainQuery: q names someone the configuration does not know.
func ExplainCaller(snap *policy.Snapshot, q ExplainQuery, now time.Time) (policy.Caller, []string, *Error, error) {
	cr, err := namedCredentials(snap, q, now)
	if err != nil {
		return policy.Caller{}, nil, nil, err
	}
	c, refusal := cr.caller(snap)
	var groups []string
	if cr.sess != nil && refusal == nil {
		groups = cr.sess.Groups
	}
	return c, groups, refusal, nil
}

// credentials are the API key and the session a named request carries.
type credentials struct {
	key        *policy.Key
	keyRefusal string // why authn.Key would refuse key now
	sess       *session.Session
}

// namedCredentials builds the credentials of q's names: the app's first
// key that authn.Key would accept at now (else its first key and the
// refusal), and the session a login would have issued.
func namedCredentials(snap *policy.Snapshot, q ExplainQuery, now time.Time) (credentials, error) {
	var cr credentials
	if q.App != "" {
		app, ok := snap.App(q.App)
		if !ok {
			return cr, fmt.Errorf("%w: no app %q in the configuration", ErrExplainQuery, q.App)
		}
		keys := app.Keys()
		if len(keys) == 0 {
			return cr, fmt.Errorf("%w: app %q has no API key", ErrExplainQuery, q.App)
		}
		cr.key = keys[0]
		for _, k := range keys {
			if !k.Expired(now) {
				cr.key = k
				break
			}
		}
		switch {
		case cr.key.Expired(now):
			cr.keyRefusal = authn.ReasonAPIKeyExpired
		case !app.Active():
			cr.keyRefusal = authn.ReasonAppInactive
		}
	}
	switch {
	case q.Admin != "":
		if q.User != "" || len(q.LDAPGroups) > 0 || len(q.Lookups) > 0 {
			return cr, fmt.Errorf("%w: admin excludes user, ldap_groups and lookups", ErrExplainQuery)
		}
		cr.sess = &session.Session{Subject: q.Admin, Admin: true, Provider: policy.ProviderLocal, Local: true}
	case q.User != "" || q.Provider != "" || len(q.LDAPGroups) > 0 || len(q.Lookups) > 0:
		sess := &session.Session{Subject: q.User, App: q.App, Provider: q.Provider, Groups: q.LDAPGroups}
		switch q.Provider {
		case "", policy.ProviderLocal:
			if len(q.LDAPGroups) > 0 {
				return cr, fmt.Errorf("%w: ldap_groups need the ldap block as provider", ErrExplainQuery)
			}
			if len(q.Lookups) > 0 {
				return cr, fmt.Errorf("%w: lookups need the ldap or oauth block as provider", ErrExplainQuery)
			}
			sess.Provider, sess.Local = policy.ProviderLocal, true
			if u, ok := snap.User(q.User); ok {
				sess.Email = u.Email()
			}
		default:
			if _, ok := snap.LDAP(q.Provider); !ok {
				if _, ok := snap.OAuth(q.Provider); !ok {
					return cr, fmt.Errorf("%w: no ldap or oauth block %q in the configuration", ErrExplainQuery, q.Provider)
				}
			}
			if o, ok := snap.OAuth(q.Provider); ok {
				// Its sessions are issued for its app only.
				sess.App = o.App().Name()
				if o.MappedOnly() {
					// An X login's session is the mapped local user's.
					sess.Local = true
					if u, ok := snap.User(q.User); ok {
						sess.Email = u.Email()
					}
				}
			}
			captures := snap.CapturedLookups(q.Provider)
			for _, n := range slices.Sorted(maps.Keys(q.Lookups)) {
				if !slices.Contains(captures, n) {
					return cr, fmt.Errorf("%w: the lookups of %q do not declare %q", ErrExplainQuery, q.Provider, n)
				}
			}
			// As a login would: values over the limits are not captured.
			sess.Lookups, _ = policy.CapIdentityLookups(q.Lookups)
		}
		if q.User == "" && sess.Local {
			return cr, fmt.Errorf("%w: a local user session needs the user's name", ErrExplainQuery)
		}
		cr.sess = sess
	}
	return cr, nil
}

// caller is what the authenticate stage makes of cr: its identity
// (authn.KeyIdentity for an API key alone, authn.Admit for a session,
// whose role comes from policy.Snapshot.UserRole) or its refusal.
func (cr credentials) caller(snap *policy.Snapshot) (policy.Caller, *Error) {
	var id policy.Identity
	switch {
	case cr.keyRefusal != "":
		return policy.Caller{}, &Error{Status: http.StatusUnauthorized, Reason: cr.keyRefusal}
	case cr.sess != nil:
		var err error
		if id, err = authn.Admit(snap, cr.key, cr.sess); err != nil {
			e := &Error{Status: http.StatusUnauthorized, Reason: "unauthorized"}
			errors.As(err, &e)
			return policy.Caller{}, e
		}
	case cr.key != nil:
		id = authn.KeyIdentity(snap, cr.key)
	default:
		return policy.Caller{}, &Error{Status: http.StatusUnauthorized, Reason: authn.ReasonMissingAPIKey}
	}
	c := policy.Caller{ID: id}
	if s := cr.sess; s != nil {
		// As transaction.lookups: a local user's own lookups apply.
		c.Email, c.Provider, c.Local, c.Captured = s.Email, s.Provider, s.Local, s.Lookups
	}
	return c, nil
}
