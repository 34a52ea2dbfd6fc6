package authn

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy/httperr"
)

// Several keys on one app, with labels and expiry: which are accepted at
// a given time, the refusal reasons, and the key the identity names.
func TestAPIKey_RotationAndExpiry(t *testing.T) {
	notAfter := time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
	sum := func(k string) [32]byte { return sha256.Sum256([]byte(k)) }
	legacy := sum("legacy")
	snap, err := policy.New(policy.Spec{
		Roles: []policy.RoleSpec{{Name: "reader", Active: true}},
		Apps: []policy.AppSpec{
			{Name: "portal", KeySHA256: legacy, DefaultRole: "reader", Active: true, Keys: []policy.KeySpec{
				{SHA256: sum("new"), Label: "2026-12"},
				{SHA256: sum("old"), Label: "2025-12", NotAfter: notAfter},
			}},
			{Name: "off", Active: false, Keys: []policy.KeySpec{{SHA256: sum("off"), Label: "k"}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, key string
		now       time.Time
		reason    string // "" = accepted
		app, kn   string // the key named in the Result (also beside a refusal)
	}{
		{"unlabeled: hash prefix", "legacy", notAfter, "", "portal", hexPrefix(legacy)},
		{"new key", "new", notAfter.Add(time.Hour), "", "portal", "2026-12"},
		{"old key before not_after", "old", notAfter.Add(-time.Second), "", "portal", "2025-12"},
		{"old key at not_after (inclusive)", "old", notAfter, "", "portal", "2025-12"},
		{"old key past not_after", "old", notAfter.Add(time.Nanosecond), ReasonAPIKeyExpired, "portal", "2025-12"},
		{"inactive app", "off", notAfter, ReasonAppInactive, "off", "k"},
		{"unknown", "nope", notAfter, ReasonUnknownAPIKey, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set(APIKeyHeader, tc.key)
			res, err := APIKey{}.Authenticate(r, Context{Snap: snap, Now: tc.now})
			var he *httperr.Error
			switch {
			case tc.reason == "" && err != nil:
				t.Fatalf("got %v; want accepted", err)
			case tc.reason != "" && (!errors.As(err, &he) || he.Reason != tc.reason || he.Status != 401):
				t.Fatalf("got %v; want 401 %s", err, tc.reason)
			}
			gotApp, gotKey := "", ""
			if res.Key != nil {
				gotApp, gotKey = res.Key.App().Name(), res.Key.Name()
			}
			if gotApp != tc.app || gotKey != tc.kn {
				t.Errorf("key of the result: app %q, name %q; want %q, %q", gotApp, gotKey, tc.app, tc.kn)
			}
			if tc.reason != "" {
				if res.App != nil {
					t.Errorf("refused, but the result has app %q", res.App.Name())
				}
				return
			}
			id := KeyIdentity(snap, res.Key)
			if id.Key != res.Key || id.App != res.Key.App() || id.Role == nil || id.Role.Name() != "reader" {
				t.Errorf("identity %+v; want app portal, its key and role reader", id)
			}
		})
	}
}

func hexPrefix(sum [32]byte) string { return hex.EncodeToString(sum[:4]) }
