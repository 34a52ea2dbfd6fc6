package proxy

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// Explain takes a session of an X login as the mapped local user's, as
// the login makes it: that user's role, and refused when the user is
// unknown or inactive.
func TestExplain_XSession(t *testing.T) {
	spec := sessionSpec(t, "http://127.0.0.1:9")
	spec.OAuth = []policy.OAuthSpec{{Name: "x", App: "portal", MappedOnly: true, MatchUsername: true}}
	snap, err := policy.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	q := func(user string) ExplainQuery {
		return ExplainQuery{App: "portal", User: user, Provider: "x", Method: "GET", Target: "/hr/employees/5/salary"}
	}
	e, err := Explain(snap, q("alice"), time.Now())
	if err != nil || e.Decision != "allow" || e.Role != "manager" {
		t.Errorf("alice through x: %+v, %v; want allowed as manager", e, err)
	}
	for user, reason := range map[string]string{"bob": "user_inactive", "zed": "unknown_user"} {
		e, err := Explain(snap, q(user), time.Now())
		if err != nil || e.Status != 401 || e.Reason != reason {
			t.Errorf("%s through x: %d %s, %v; want 401 %s", user, e.Status, e.Reason, err, reason)
		}
	}
	if _, err := Explain(snap, q(""), time.Now()); !errors.Is(err, ErrExplainQuery) {
		t.Errorf("no user through x: %v, want ErrExplainQuery", err)
	}
}
