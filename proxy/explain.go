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
// authenticate stage's own functions (authn.KeyIdentity for an API key
// alone, authn.Admit for a session, whose role comes from
// policy.Snapshot.UserRole), then policy.Snapshot.Explain. A refusal
// before the decision (bad target, an expired key or inactive app at now, a
// session no longer valid) is an explanation too, with its status and
// reason.
func Explain(snap *policy.Snapshot, q ExplainQuery, now time.Time) (policy.Explanation, error) {
	if q.Method == "" || q.Target == "" {
		return policy.Explanation{}, fmt.Errorf("%w: a method and a target are required", ErrExplainQuery)
	}
	var key *policy.Key
	keyRefusal := ""
	if q.App != "" {
		app, ok := snap.App(q.App)
		if !ok {
			return policy.Explanation{}, fmt.Errorf("%w: no app %q in the configuration", ErrExplainQuery, q.App)
		}
		keys := app.Keys()
		if len(keys) == 0 {
			return policy.Explanation{}, fmt.Errorf("%w: app %q has no API key", ErrExplainQuery, q.App)
		}
		// The app's first key that authn.Key would accept now, else its
		// first key and the refusal.
		key = keys[0]
		for _, k := range keys {
			if !k.Expired(now) {
				key = k
				break
			}
		}
		switch {
		case key.Expired(now):
			keyRefusal = authn.ReasonAPIKeyExpired
		case !app.Active():
			keyRefusal = authn.ReasonAppInactive
		}
	}
	p, perr := CanonicalTarget(q.Method, q.Target, nil)
	if perr != nil {
		return policy.RefusedExplanation(q.Method, q.Target, perr.Status, perr.Reason), nil
	}
	var sess *session.Session
	switch {
	case q.Admin != "":
		if q.User != "" || len(q.LDAPGroups) > 0 || len(q.Lookups) > 0 {
			return policy.Explanation{}, fmt.Errorf("%w: admin excludes user, ldap_groups and lookups", ErrExplainQuery)
		}
		sess = &session.Session{Subject: q.Admin, Admin: true, Provider: policy.ProviderLocal, Local: true}
	case q.User != "" || q.Provider != "" || len(q.LDAPGroups) > 0 || len(q.Lookups) > 0:
		if q.App == "" {
			return policy.Explanation{}, fmt.Errorf("%w: a user session needs its app", ErrExplainQuery)
		}
		sess = &session.Session{Subject: q.User, App: q.App, Provider: q.Provider, Groups: q.LDAPGroups}
		switch q.Provider {
		case "", policy.ProviderLocal:
			if len(q.LDAPGroups) > 0 {
				return policy.Explanation{}, fmt.Errorf("%w: ldap_groups need the ldap block as provider", ErrExplainQuery)
			}
			if len(q.Lookups) > 0 {
				return policy.Explanation{}, fmt.Errorf("%w: lookups need the ldap or oauth block as provider", ErrExplainQuery)
			}
			sess.Provider, sess.Local = policy.ProviderLocal, true
			if u, ok := snap.User(q.User); ok {
				sess.Email = u.Email()
			}
		default:
			if _, ok := snap.LDAP(q.Provider); !ok {
				if _, ok := snap.OAuth(q.Provider); !ok {
					return policy.Explanation{}, fmt.Errorf("%w: no ldap or oauth block %q in the configuration", ErrExplainQuery, q.Provider)
				}
			}
			if o, ok := snap.OAuth(q.Provider); ok && o.MappedOnly() {
				// An X login's session is the mapped local user's.
				sess.Local = true
				if u, ok := snap.User(q.User); ok {
					sess.Email = u.Email()
				}
			}
			if sess.Subject == "" {
				sess.Subject = "(directory user)"
			}
			captures := snap.CapturedLookups(q.Provider)
			for _, n := range slices.Sorted(maps.Keys(q.Lookups)) {
				if !slices.Contains(captures, n) {
					return policy.Explanation{}, fmt.Errorf("%w: the lookups of %q do not declare %q", ErrExplainQuery, q.Provider, n)
				}
			}
			// As a login would: values over the limits are not captured.
			sess.Lookups, _ = policy.CapIdentityLookups(q.Lookups)
		}
		if q.User == "" && sess.Local {
			return policy.Explanation{}, fmt.Errorf("%w: a local user session needs the user's name", ErrExplainQuery)
		}
	}
	rt, routed := snap.Route(p)
	public := routed && rt.Upstream.Public()
	var id policy.Identity
	switch {
	case public:
		// authenticate does not run on public routes.
	case keyRefusal != "":
		return policy.RefusedExplanation(q.Method, p.Escaped, http.StatusUnauthorized, keyRefusal), nil
	case sess != nil:
		var err error
		if id, err = authn.Admit(snap, key, sess); err != nil {
			e := &Error{Status: http.StatusUnauthorized, Reason: "unauthorized"}
			errors.As(err, &e)
			return policy.RefusedExplanation(q.Method, p.Escaped, e.Status, e.Reason), nil
		}
	case key != nil:
		id = authn.KeyIdentity(snap, key)
	default:
		return policy.RefusedExplanation(q.Method, p.Escaped, http.StatusUnauthorized, authn.ReasonMissingAPIKey), nil
	}
	c := policy.Caller{ID: id}
	if sess != nil && !public {
		// As transaction.lookups: a local user's own lookups apply.
		c.Email, c.Provider, c.Local, c.Captured = sess.Email, sess.Provider, sess.Local, sess.Lookups
	}
	return snap.Explain(q.Method, p, c), nil
}
