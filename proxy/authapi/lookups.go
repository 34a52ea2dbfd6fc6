package authapi

import (
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy/session"
)

// captured returns the lookups a login through provider captured, as the
// session carries them: policy.CapIdentityLookups's limits applied, each
// dropped value logged (its lookup's name, never the value). A dropped
// lookup is absent from the session, so a filter comparing with it hides
// the records.
func (c call) captured(provider, user string, vals map[string]string) map[string]string {
	kept, dropped := policy.CapIdentityLookups(vals)
	for _, d := range dropped {
		c.h.log.Warn("lookup not captured", "provider", provider, "user", user, "lookup", d.Name, "why", d.Why)
	}
	return kept
}

// stillCaptured returns the lookups of s that its provider still
// captures in the current snapshot, for the refreshed token. A refresh asks
// neither the directory nor the identity provider again (it does not for
// groups either): the values are those of the login, and a name the
// provider's block no longer declares is dropped.
func (c call) stillCaptured(s *session.Session) map[string]string {
	if len(s.Lookups) == 0 {
		return nil
	}
	names := c.Snap.CapturedLookups(s.Provider)
	var out map[string]string
	for _, n := range names {
		if v, ok := s.Lookups[n]; ok {
			if out == nil {
				out = make(map[string]string, len(names))
			}
			out[n] = v
		}
	}
	return out
}
