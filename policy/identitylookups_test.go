package policy_test

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// CapIdentityLookups: what a session may carry of the values a provider
// returned; the table is the rule.
func TestCapIdentityLookups(t *testing.T) {
	long := strings.Repeat("x", policy.MaxIdentityLookupBytes)
	cases := []struct {
		name    string
		in      map[string]string
		kept    map[string]string
		dropped []policy.DroppedLookup
	}{
		{"nothing", nil, nil, nil},
		{"plain values", map[string]string{"department": "sales", "region": "Hamburg"},
			map[string]string{"department": "sales", "region": "Hamburg"}, nil},
		{"empty string is a value", map[string]string{"department": ""}, map[string]string{"department": ""}, nil},
		{"exactly the value limit", map[string]string{"a": long}, map[string]string{"a": long}, nil},
		{"one byte over the value limit", map[string]string{"a": long + "y", "b": "ok"},
			map[string]string{"b": "ok"}, []policy.DroppedLookup{{Name: "a", Why: policy.DropTooLong}}},
		{"invalid UTF-8", map[string]string{"a": "\xff"}, nil, []policy.DroppedLookup{{Name: "a", Why: policy.DropNotText}}},
		{"newline", map[string]string{"a": "sales\nX-Admin: 1"}, nil, []policy.DroppedLookup{{Name: "a", Why: policy.DropNotText}}},
		{"NUL", map[string]string{"a": "sa\x00les"}, nil, []policy.DroppedLookup{{Name: "a", Why: policy.DropNotText}}},
		{"non-ASCII text is kept", map[string]string{"l": "Zürich"}, map[string]string{"l": "Zürich"}, nil},
		{"session total: later names dropped",
			map[string]string{"a": long, "b": long, "c": long, "d": long, "e": "x"},
			map[string]string{"a": long, "b": long, "c": long, "e": "x"},
			[]policy.DroppedLookup{{Name: "d", Why: policy.DropOverTotal}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kept, dropped := policy.CapIdentityLookups(tc.in)
			if !maps.Equal(kept, tc.kept) {
				t.Errorf("kept %q, want %q", kept, tc.kept)
			}
			if !reflect.DeepEqual(dropped, tc.dropped) {
				t.Errorf("dropped %v, want %v", dropped, tc.dropped)
			}
		})
	}
	t.Run("count", func(t *testing.T) {
		in := map[string]string{}
		for i := range policy.MaxIdentityLookups + 3 {
			in[string(rune('A'+i))] = ""
		}
		kept, dropped := policy.CapIdentityLookups(in)
		if len(kept) != policy.MaxIdentityLookups || len(dropped) != 3 || dropped[0].Why != policy.DropTooMany {
			t.Errorf("kept %d, dropped %v", len(kept), dropped)
		}
	})
}

// Captured lookups merge as user-scope lookups: over role, app and system,
// under a local user's own; only names the provider still declares apply.
func TestCallerLookups(t *testing.T) {
	spec := identitySpec(t)
	spec.Lookups = map[string]any{"department": "sys", "region": "sys", "level": int64(1)}
	spec.Apps[0].Lookups = map[string]any{"region": "app"}
	spec.Roles[3].Lookups = map[string]any{"region": "role", "level": int64(2)} // boss
	spec.Users[0].Lookups = map[string]any{"department": "alice-local"}
	spec.LDAP[0].Lookups = []string{"department", "region"}
	spec.OAuth[0].Lookups = []string{"department", "tenant"}
	s := mustNew(t, spec)
	portal, _ := s.App("portal")
	boss, _ := s.Role("boss")
	alice, _ := s.User("alice")

	cases := []struct {
		name     string
		role     *policy.Role
		user     *policy.User
		provider string
		captured map[string]string
		want     map[string]any
	}{
		{"no captured values: as Lookups", boss, nil, "corp", nil,
			map[string]any{"department": "sys", "region": "role", "level": int64(2)}},
		{"captured wins over role, app and system", boss, nil, "corp", map[string]string{"department": "sales", "region": "eu"},
			map[string]any{"department": "sales", "region": "eu", "level": int64(2)}},
		{"a name the block no longer declares is ignored", nil, nil, "corp", map[string]string{"department": "sales", "tenant": "t9"},
			map[string]any{"department": "sales", "region": "app", "level": int64(1)}},
		{"removed provider: nothing captured applies", nil, nil, "gone", map[string]string{"department": "sales"},
			map[string]any{"department": "sys", "region": "app", "level": int64(1)}},
		{"provider without lookups", nil, nil, "nodefault", map[string]string{"department": "sales"},
			map[string]any{"department": "sys", "region": "app", "level": int64(1)}},
		{"local user's own lookups win over captured", nil, alice, "sso", map[string]string{"department": "sales", "tenant": "t1"},
			map[string]any{"department": "alice-local", "region": "app", "level": int64(1), "tenant": "t1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := s.CallerLookups(portal, tc.role, tc.user, tc.provider, tc.captured)
			if !maps.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if got := s.CapturedLookups("corp"); !slices.Equal(got, []string{"department", "region"}) {
		t.Errorf("CapturedLookups(corp) = %q", got)
	}
}

func TestNew_IdentityLookupNames(t *testing.T) {
	spec := identitySpec(t)
	spec.LDAP[0].Lookups = []string{"a", "a"}
	if _, err := policy.New(spec); err == nil || !strings.Contains(err.Error(), "duplicate lookup") {
		t.Errorf("duplicate: %v", err)
	}
	spec = identitySpec(t)
	for i := range policy.MaxIdentityLookups + 1 {
		spec.OAuth[0].Lookups = append(spec.OAuth[0].Lookups, string(rune('a'+i)))
	}
	if _, err := policy.New(spec); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("too many: %v", err)
	}
}
