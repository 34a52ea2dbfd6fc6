package policy_test

import (
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/filter"
)

// newCase breaks one invariant of a valid hrSpec; New must refuse it with an
// error naming the offending item.
type newCase struct {
	name   string
	mutate func(tb testing.TB, s *policy.Spec)
	want   string // a substring the error must contain
}

func runNewRefused(t *testing.T, cases []newCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := hrSpec(t, allowGrant(t, "hr", GET, "g", "/employees/**"))
			tc.mutate(t, &spec)
			s, err := policy.New(spec)
			if err == nil {
				t.Fatalf("New: got snapshot %p, want an error", s)
			}
			if s != nil {
				t.Errorf("New with error %v: got snapshot %p, want nil", err, s)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: got error %q, want one naming %q", err, tc.want)
			}
		})
	}
}

func TestNew_Valid(t *testing.T) {
	s := mustNew(t, hrSpec(t, allowGrant(t, "hr", GET, "g", "/employees/**")))
	if got := s.Hash(); got != "test" {
		t.Errorf("Hash(): got %q, want %q", got, "test")
	}
	var names []string
	for i, u := range s.Upstreams() {
		names = append(names, u.Name())
		if u.Index() != i {
			t.Errorf("Upstreams()[%d].Index(): got %d, want %d", i, u.Index(), i)
		}
	}
	if got, want := strings.Join(names, ","), "hr,crm,pub,old"; got != want {
		t.Errorf("Upstreams(): got %s, want %s", got, want)
	}
}

func TestNew_DuplicateNames(t *testing.T) {
	runNewRefused(t, []newCase{
		{"Upstream", func(tb testing.TB, s *policy.Spec) {
			u := s.Upstreams[1]
			u.Name = "hr"
			s.Upstreams[1] = u
		}, `"hr"`},
		{"Role", func(tb testing.TB, s *policy.Spec) { s.Roles[1].Name = "reader" }, `"reader"`},
		{"App", func(tb testing.TB, s *policy.Spec) { s.Apps[1].Name = "portal" }, `"portal"`},
	})
}

func TestNew_DuplicatePrefix(t *testing.T) {
	runNewRefused(t, []newCase{
		{"Same", func(tb testing.TB, s *policy.Spec) { s.Upstreams[1].Prefix = "/hr" }, `"/hr"`},
		{"Root", func(tb testing.TB, s *policy.Spec) {
			s.Upstreams[0].Prefix = "/"
			s.Upstreams[1].Prefix = "/"
		}, `"/"`},
	})
}

func TestNew_UnknownUpstreamInGrant(t *testing.T) {
	runNewRefused(t, []newCase{
		{"Allow", func(tb testing.TB, s *policy.Spec) {
			s.Roles[0].Grants = append(s.Roles[0].Grants, allowGrant(tb, "payroll", GET, "g", "/**"))
		}, `"payroll"`},
		{"Deny", func(tb testing.TB, s *policy.Spec) {
			s.Roles[1].Grants = []policy.GrantSpec{denyGrant(tb, "HR", GET, "g", "/**")}
		}, `"HR"`},
	})
}

func TestNew_EmptyGrant(t *testing.T) {
	runNewRefused(t, []newCase{
		{"NoVerbs", func(tb testing.TB, s *policy.Spec) {
			s.Roles[0].Grants = []policy.GrantSpec{allowGrant(tb, "hr", 0, "g", "/**")}
		}, `"reader"`},
		{"NoPaths", func(tb testing.TB, s *policy.Spec) {
			s.Roles[0].Grants = []policy.GrantSpec{allowGrant(tb, "hr", GET, "g")}
		}, `"reader"`},
	})
}

// A filtered grant carries the records plan of its records path and its
// filter's fields; New refuses one without it, or with another's.
func TestNew_FilterWithoutPlan(t *testing.T) {
	filtered := func(tb testing.TB, records string, plan bool) policy.GrantSpec {
		g := allowGrant(tb, "hr", GET, "g", "/**")
		prog, err := filter.Compile("record.level < 3")
		if err != nil {
			tb.Fatal(err)
		}
		g.Records, g.Filter, g.Program = records, prog.Source(), prog
		if plan {
			if g.Plan, err = policy.NewRecordPlan("data", prog.Fields()); err != nil {
				tb.Fatal(err)
			}
		}
		return g
	}
	runNewRefused(t, []newCase{
		{"NoPlan", func(tb testing.TB, s *policy.Spec) {
			s.Roles[0].Grants = []policy.GrantSpec{filtered(tb, "data", false)}
		}, `"reader"`},
		{"OtherPath", func(tb testing.TB, s *policy.Spec) {
			s.Roles[0].Grants = []policy.GrantSpec{filtered(tb, "items", true)}
		}, `"reader"`},
		{"PlanWithoutFilter", func(tb testing.TB, s *policy.Spec) {
			g := filtered(tb, "data", true)
			g.Filter, g.Program = "", nil
			s.Roles[0].Grants = []policy.GrantSpec{g}
		}, `"reader"`},
	})
	spec := hrSpec(t, filtered(t, "data", true))
	gs := mustNew(t, spec).FilteredGrants()
	if len(gs) == 0 {
		t.Fatal("no filtered grant")
	}
	for _, g := range gs {
		if g.Plan() == nil {
			t.Errorf("%v: no plan", g)
		}
	}
}

func TestNew_UnknownDefaultRole(t *testing.T) {
	runNewRefused(t, []newCase{
		{"Unknown", func(tb testing.TB, s *policy.Spec) { s.Apps[0].DefaultRole = "writer" }, `"writer"`},
		{"CaseMatters", func(tb testing.TB, s *policy.Spec) { s.Apps[0].DefaultRole = "Reader" }, `"Reader"`},
	})
}

func TestNew_BadURL(t *testing.T) {
	set := func(raw string) func(testing.TB, *policy.Spec) {
		return func(tb testing.TB, s *policy.Spec) {
			if raw == "" {
				s.Upstreams[1].URL = nil
				return
			}
			s.Upstreams[1].URL = mustURL(tb, raw)
		}
	}
	runNewRefused(t, []newCase{
		{"Nil", set(""), `"crm"`},
		{"FTP", set("ftp://crm.internal"), `"crm"`},
		{"NoHost", set("http:///api"), `"crm"`},
		{"Relative", set("/api"), `"crm"`},
		{"Opaque", set("mailto:crm@example.com"), `"crm"`},
	})
}

func TestNew_NonCanonicalPrefix(t *testing.T) {
	var cases []newCase
	for _, prefix := range []string{"", "hr", "/hr/", "/h%72", "/caf%c3%a9", "/café", "/a//b", "//", "/./a", "/a/..", "/a;b", "/a%2Fb"} {
		cases = append(cases, newCase{"Prefix_" + prefix, func(tb testing.TB, s *policy.Spec) {
			s.Upstreams[1].Prefix = prefix
		}, `"crm"`})
	}
	runNewRefused(t, cases)
}

func TestNew_DuplicateKeyHash(t *testing.T) {
	runNewRefused(t, []newCase{
		{"SameKey", func(tb testing.TB, s *policy.Spec) { s.Apps[1].KeySHA256 = keySum(portalKey) }, `"old"`},
		{"SameKeyInBlock", func(tb testing.TB, s *policy.Spec) {
			s.Apps[1].Keys = []policy.KeySpec{{SHA256: keySum(portalKey), Label: "k"}}
		}, `"old"`},
		{"SameKeyWithinApp", func(tb testing.TB, s *policy.Spec) {
			s.Apps[0].Keys = []policy.KeySpec{{SHA256: keySum(portalKey), Label: "k"}}
		}, `"portal"`},
		{"SameLabelWithinApp", func(tb testing.TB, s *policy.Spec) {
			s.Apps[0].Keys = []policy.KeySpec{{SHA256: keySum("a"), Label: "k"}, {SHA256: keySum("b"), Label: "k"}}
		}, `"k"`},
		{"LabelIsTheUnlabeledKeysName", func(tb testing.TB, s *policy.Spec) {
			s.Apps[0].Keys = []policy.KeySpec{{SHA256: keySum("a"), Label: policy.KeyName(keySum(portalKey), "")}}
		}, `"portal"`},
	})
}

// An app's keys: the snapshot finds each by its key, names it, and keeps
// its expiry; the app lists them in declaration order.
func TestAPIKey_Keys(t *testing.T) {
	spec := hrSpec(t)
	notAfter := time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
	spec.Apps[0].Keys = []policy.KeySpec{
		{SHA256: keySum("k-new"), Label: "2026-12", Origin: "apps.hcl:3,3"},
		{SHA256: keySum("k-old"), Label: "2025-12", NotAfter: notAfter},
	}
	s := mustNew(t, spec)
	portal, _ := s.App("portal")
	sum := keySum(portalKey)
	for _, tc := range []struct {
		key, name, label string
		notAfter         time.Time
	}{
		{portalKey, hex.EncodeToString(sum[:4]), "", time.Time{}},
		{"k-new", "2026-12", "2026-12", time.Time{}},
		{"k-old", "2025-12", "2025-12", notAfter},
	} {
		k, ok := s.APIKey(tc.key)
		if !ok {
			t.Fatalf("APIKey(%q): not found", tc.key)
		}
		if k.App() != portal || k.Name() != tc.name || k.Label() != tc.label || !k.NotAfter().Equal(tc.notAfter) {
			t.Errorf("APIKey(%q): app %q, name %q, label %q, not_after %v; want portal, %q, %q, %v",
				tc.key, k.App().Name(), k.Name(), k.Label(), k.NotAfter(), tc.name, tc.label, tc.notAfter)
		}
	}
	var names []string
	for _, k := range portal.Keys() {
		names = append(names, k.Name())
	}
	if want := []string{hex.EncodeToString(sum[:4]), "2026-12", "2025-12"}; !slices.Equal(names, want) {
		t.Errorf("Keys(): %v; want %v", names, want)
	}
	old, _ := s.APIKey("k-old")
	for _, tc := range []struct {
		now     time.Time
		expired bool
	}{
		{notAfter.Add(-time.Hour), false}, {notAfter, false}, {notAfter.Add(time.Nanosecond), true},
	} {
		if got := old.Expired(tc.now); got != tc.expired {
			t.Errorf("Expired(%v) = %v; want %v", tc.now, got, tc.expired)
		}
	}
	if k, _ := s.APIKey("k-new"); k.Expired(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Error("a key without not_after expired")
	}
}

// TestNew_CopiesSpec checks that a snapshot does not share mutable state
// with its Spec or with its callers.
func TestNew_CopiesSpec(t *testing.T) {
	spec := hrSpec(t, allowGrant(t, "hr", GET, "g", "/employees/**"))
	s := mustNew(t, spec)
	spec.Upstreams[0].URL.Host = "evil.example"
	spec.Roles[0].Grants[0].Paths[0] = mustGlobs(t, "/**")[0]
	spec.Roles[0].Grants[0].Deny = true
	hr, _ := s.Upstream("hr")
	if got := hr.URL().Host; got != "hr.internal:8080" {
		t.Errorf("after changing the Spec: got upstream host %q, want %q", got, "hr.internal:8080")
	}
	hr.URL().Host = "evil.example"
	if got := hr.URL().Host; got != "hr.internal:8080" {
		t.Errorf("after changing URL(): got upstream host %q, want %q", got, "hr.internal:8080")
	}
	s.Upstreams()[0] = nil
	if s.Upstreams()[0] != hr {
		t.Error("after changing Upstreams(): got a changed snapshot, want it unchanged")
	}
	d := decide(t, s, "GET", "/hr/employees/5", identity(t, s, "reader"))
	if !d.Allow {
		t.Errorf("after changing the Spec's grants: got %s, want %s", d.Reason, policy.ReasonGrantAllowed)
	}
	if d := decide(t, s, "GET", "/hr/other", identity(t, s, "reader")); d.Allow {
		t.Errorf("after changing the Spec's globs: got %s for /hr/other, want %s", d.Reason, policy.ReasonNoMatchingGrant)
	}
}

func TestAppByKey(t *testing.T) {
	s := mustNew(t, hrSpec(t))
	for _, tc := range []struct {
		name   string
		key    string
		app    string // "" = not found
		active bool
	}{
		{"Active", portalKey, "portal", true},
		{"InactiveStillFound", oldKey, "old", false},
		{"Unknown", "gh_test_unknown", "", false},
		{"Empty", "", "", false},
		{"Prefix", portalKey[:len(portalKey)-1], "", false},
		{"CaseMatters", strings.ToUpper(portalKey), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, ok := s.AppByKey(tc.key)
			if tc.app == "" {
				if ok || a != nil {
					t.Fatalf("AppByKey: got (%v, %v), want not found", a, ok)
				}
				return
			}
			if !ok {
				t.Fatalf("AppByKey: got not found, want %q", tc.app)
			}
			if a.Name() != tc.app || a.Active() != tc.active {
				t.Errorf("AppByKey: got (%q, active=%v), want (%q, active=%v)", a.Name(), a.Active(), tc.app, tc.active)
			}
			if byName, _ := s.App(tc.app); byName != a {
				t.Errorf("AppByKey and App(%q): got different apps", tc.app)
			}
		})
	}
}
