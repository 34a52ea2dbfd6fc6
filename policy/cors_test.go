package policy_test

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

func corsSpec(tb testing.TB, path string, origins ...string) policy.CORSSpec {
	tb.Helper()
	cs := policy.CORSSpec{
		Path:    mustGlobs(tb, path)[0],
		Methods: policy.VerbGET | policy.VerbPUT,
		MaxAge:  -1,
		Enabled: true,
		Origin:  "cors.hcl:1,1",
	}
	for _, o := range origins {
		cs.AllowOrigins = append(cs.AllowOrigins, mustOrigin(tb, o))
	}
	return cs
}

func TestCompareGlobSpecificity(t *testing.T) {
	// Each glob is strictly more specific than the next one.
	order := []string{
		"/hr/employees/*/salary", // 3 literals
		"/hr/employees",          // 2 literals, no wildcard
		"/hr/employees/*",        // 2 literals, one "*"
		"/hr/employees/*/*",      // 2 literals, two "*"
		"/hr/**/salary",          // 2 literals, one "**"
		"/hr",                    // 1 literal
		"/hr/*",
		"/hr/**",
		"/",     // no segments
		"/*",    // one "*"
		"/**",   // one "**"
		"/**/*", // one "**", one "*"
	}
	for i := 0; i+1 < len(order); i++ {
		a, b := mustGlobs(t, order[i])[0], mustGlobs(t, order[i+1])[0]
		if c := policy.CompareGlobSpecificity(a, b); c >= 0 {
			t.Errorf("Compare(%s, %s) = %d, want < 0", a, b, c)
		}
		if c := policy.CompareGlobSpecificity(b, a); c <= 0 {
			t.Errorf("Compare(%s, %s) = %d, want > 0", b, a, c)
		}
	}
	for _, eq := range [][2]string{{"/a/*/c", "/a/b/*"}, {"/a/**", "/**/b"}, {"/x/y", "/p/q"}} {
		a, b := mustGlobs(t, eq[0])[0], mustGlobs(t, eq[1])[0]
		if c := policy.CompareGlobSpecificity(a, b); c != 0 {
			t.Errorf("Compare(%s, %s) = %d, want 0", a, b, c)
		}
	}
}

func TestGlobsOverlap(t *testing.T) {
	for _, tc := range []struct {
		a, b    string
		example string // "" = no overlap
	}{
		{"/a/*/c", "/a/b/*", "/a/b/c"},
		{"/a/**", "/**/b", "/a/b"},
		{"/**", "/", "/"},
		{"/a/**", "/a", "/a"},
		{"/*/x", "/y/*", "/y/x"},
		{"/*", "/*", "/x"},
		{"/a/**/z", "/**/m/**", "/a/m/z"},
		{"/caf%C3%A9/*", "/café/x", "/caf%C3%A9/x"},
		{"/x/y", "/p/q", ""},
		{"/a/*", "/a", ""},
		{"/a/*/c", "/a/b/d", ""},
		{"/a/**/z", "/b/**", ""},
		{"/*", "/*/*", ""},
		{"/", "/*", ""},
	} {
		a, b := mustGlobs(t, tc.a)[0], mustGlobs(t, tc.b)[0]
		for _, pair := range [][2]policy.Glob{{a, b}, {b, a}} {
			ex, ok := policy.OverlapExample(pair[0], pair[1])
			if ok != (tc.example != "") || (ok && ex != tc.example) {
				t.Errorf("OverlapExample(%s, %s) = %q, %v; want %q", pair[0], pair[1], ex, ok, tc.example)
			}
			if ok {
				p := mustPath(t, ex)
				if !pair[0].Match(p.Segments) || !pair[1].Match(p.Segments) {
					t.Errorf("example %q does not match both %s and %s", ex, pair[0], pair[1])
				}
			}
		}
	}
}

func TestSnapshotCORS_MostSpecificWins(t *testing.T) {
	off := corsSpec(t, "/hr/admin/**", "https://a.example.com")
	off.Enabled = false
	spec := hrSpec(t)
	spec.CORS = []policy.CORSSpec{
		corsSpec(t, "/**", "https://any.example.com"),
		corsSpec(t, "/hr/**", "https://hr.example.com"),
		corsSpec(t, "/hr/employees/*", "https://emp.example.com"),
		corsSpec(t, "/hr/employees/*/salary", "https://pay.example.com"),
		corsSpec(t, "/hr/*/*/bonus", "https://pay2.example.com"),
		off,
	}
	snap := mustNew(t, spec)
	for _, tc := range []struct{ path, want string }{
		{"/", "/**"},
		{"/crm/x", "/**"},
		{"/hr", "/hr/**"},
		{"/hr/employees", "/hr/**"},
		{"/hr/employees/7", "/hr/employees/*"},
		{"/hr/employees/7/", "/hr/employees/*"},
		{"/hr/employees/7/salary", "/hr/employees/*/salary"},
		{"/hr/managers/7/bonus", "/hr/*/*/bonus"},
		{"/hr/employees/7/bonus", "/hr/*/*/bonus"},
		{"/hr/employees/7/salary/x", "/hr/**"},
		{"/hr/admin", ""}, // disabled: not a CORS path, though /hr/** and /** match
		{"/hr/admin/users/1", ""},
	} {
		r := snap.CORS(mustPath(t, tc.path))
		got := ""
		if r != nil {
			got = r.Path().String()
		}
		if got != tc.want {
			t.Errorf("CORS(%s) = %q, want %q", tc.path, got, tc.want)
		}
	}
	if n := len(snap.CORSRules()); n != 6 {
		t.Errorf("CORSRules: got %d, want 6", n)
	}
}

func TestSnapshotCORS_NoRules(t *testing.T) {
	snap := mustNew(t, hrSpec(t))
	if r := snap.CORS(mustPath(t, "/hr/employees")); r != nil {
		t.Errorf("got %v, want nil without cors blocks", r)
	}
}

func TestCORSRule_AllowOrigin(t *testing.T) {
	spec := hrSpec(t)
	cred := corsSpec(t, "/hr/**", "https://portal.example.com", "https://*.apps.example.com", "http://localhost:3000")
	cred.Credentials = true
	anyOrigin := corsSpec(t, "/pub/**", "*")
	spec.CORS = []policy.CORSSpec{cred, anyOrigin}
	snap := mustNew(t, spec)
	hr := snap.CORS(mustPath(t, "/hr/x"))
	pub := snap.CORS(mustPath(t, "/pub/x"))
	for _, tc := range []struct {
		rule   *policy.CORSRule
		origin string
		want   string // "" = not allowed
	}{
		{hr, "https://portal.example.com", "https://portal.example.com"},
		{hr, "https://a.apps.example.com", "https://a.apps.example.com"},
		{hr, "https://apps.example.com", ""},
		{hr, "http://localhost:3000", "http://localhost:3000"},
		{hr, "http://localhost:3001", ""},
		{hr, "null", ""},
		{hr, "", ""},
		{pub, "https://whoever.example", "*"},
		{pub, "null", "*"},
	} {
		got, ok := tc.rule.AllowOrigin(tc.origin)
		if ok != (tc.want != "") || got != tc.want {
			t.Errorf("%s AllowOrigin(%q) = %q, %v; want %q", tc.rule, tc.origin, got, ok, tc.want)
		}
	}
	if !hr.Credentials() || pub.Credentials() {
		t.Error("credentials not as configured")
	}
	if got := hr.AllowMethodsHeader(); got != "GET, PUT" {
		t.Errorf("AllowMethodsHeader = %q, want %q", got, "GET, PUT")
	}
	if !hr.AllowsMethod("PUT") || hr.AllowsMethod("put") || hr.AllowsMethod("DELETE") {
		t.Error("AllowsMethod not exact")
	}
}

func TestCORSRule_Headers(t *testing.T) {
	spec := hrSpec(t)
	cs := corsSpec(t, "/hr/**", "https://portal.example.com")
	cs.Headers = []string{"x-api-key", "Content-Type"}
	cs.ExposedHeaders = []string{"X-Request-Id"}
	cs.MaxAge = 600
	spec.CORS = []policy.CORSSpec{cs, corsSpec(t, "/crm/**", "https://portal.example.com")}
	snap := mustNew(t, spec)
	r := snap.CORS(mustPath(t, "/hr"))
	if got := r.AllowHeadersHeader(); got != "X-Api-Key, Content-Type" {
		t.Errorf("AllowHeadersHeader = %q", got)
	}
	if got := r.ExposeHeadersHeader(); got != "X-Request-Id" {
		t.Errorf("ExposeHeadersHeader = %q", got)
	}
	if got := r.MaxAgeHeader(); got != "600" {
		t.Errorf("MaxAgeHeader = %q", got)
	}
	r = snap.CORS(mustPath(t, "/crm"))
	if r.AllowHeadersHeader() != "" || r.ExposeHeadersHeader() != "" || r.MaxAgeHeader() != "" {
		t.Errorf("unset lists: got %q %q %q, want empty", r.AllowHeadersHeader(), r.ExposeHeadersHeader(), r.MaxAgeHeader())
	}
}

func TestNew_RefusesBadCORS(t *testing.T) {
	anyCred := corsSpec(t, "/a", "*")
	anyCred.Credentials = true
	anyPlus := corsSpec(t, "/a", "*", "https://x.example.com")
	noOrigins := corsSpec(t, "/a")
	noMethods := corsSpec(t, "/a", "https://x.example.com")
	noMethods.Methods = 0
	badAge := corsSpec(t, "/a", "https://x.example.com")
	badAge.MaxAge = policy.MaxCORSMaxAge + 1
	badHeader := corsSpec(t, "/a", "https://x.example.com")
	badHeader.Headers = []string{"X Bad"}
	star := corsSpec(t, "/a", "https://x.example.com")
	star.ExposedHeaders = []string{"*"}
	for _, tc := range []struct {
		name  string
		specs []policy.CORSSpec
		want  string
	}{
		{"any with credentials", []policy.CORSSpec{anyCred}, "credentials"},
		{"any with others", []policy.CORSSpec{anyPlus}, "only origin"},
		{"no origins", []policy.CORSSpec{noOrigins}, "no origins"},
		{"no methods", []policy.CORSSpec{noMethods}, "no methods"},
		{"max_age", []policy.CORSSpec{badAge}, "max_age"},
		{"bad header", []policy.CORSSpec{badHeader}, "header"},
		{"star header", []policy.CORSSpec{star}, "header"},
		{"duplicate", []policy.CORSSpec{corsSpec(t, "/a/*", "https://x.example.com"), corsSpec(t, "/a/*", "https://y.example.com")}, "duplicate"},
		{"ambiguous", []policy.CORSSpec{corsSpec(t, "/a/*/c", "https://x.example.com"), corsSpec(t, "/a/b/*", "https://y.example.com")}, "equally specific"},
		{"zero origin", []policy.CORSSpec{{Path: mustGlobs(t, "/a")[0], AllowOrigins: []policy.OriginPattern{{}}, Methods: policy.VerbGET}}, "not compiled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := hrSpec(t)
			spec.CORS = tc.specs
			_, err := policy.New(spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}
