package policy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

func TestParseGlob_Accepted(t *testing.T) {
	for _, s := range []string{
		"/",
		"/a",
		"/a/b",
		"/*",
		"/**",
		"/a/*",
		"/a/**",
		"/a/*/b",
		"/a/**/b",
		"/*/*",
		"/**/a/**",
		"/a/**/*/**",
		"/caf%C3%A9",
		"/caf%c3%a9",
		"/café",
		"/a|b",
		"/..a/a.",
		"/Employees",
	} {
		t.Run(s, func(t *testing.T) {
			g, err := policy.ParseGlob(s)
			if err != nil {
				t.Fatalf("ParseGlob(%q): got error %v, want nil", s, err)
			}
			if g.String() != s {
				t.Errorf("ParseGlob(%q).String(): got %q, want %q", s, g.String(), s)
			}
		})
	}
}

func TestParseGlob_Refused(t *testing.T) {
	tooManyDoubleStars := strings.Repeat("/**/a", policy.MaxGlobDoubleStars) + "/**"
	for _, tc := range []struct {
		name string
		glob string
		is   error // the wrapped path error, when there is one
	}{
		{"Empty", "", nil},
		{"Relative", "a", nil},
		{"RelativeStar", "*", nil},
		{"TrailingSlash", "/a/", nil},
		{"DoubleSlashOnly", "//", nil},
		{"EmptySegment", "/a//b", nil},
		{"PartialStarSuffix", "/a*", nil},
		{"PartialStarPrefix", "/*a", nil},
		{"PartialStarInside", "/a/b*c", nil},
		{"TripleStar", "/***", nil},
		{"AdjacentDoubleStars", "/a/**/**", nil},
		{"AdjacentDoubleStarsAtRoot", "/**/**", nil},
		{"TooManyDoubleStars", tooManyDoubleStars, nil},
		{"DotSegment", "/./x", policy.ErrPathDotSegment},
		{"DotDotSegment", "/a/../b", policy.ErrPathDotSegment},
		{"EncodedDotSegment", "/a/%2e", policy.ErrPathDotSegment},
		{"EncodedSlash", "/a%2fb", policy.ErrPathForbiddenByte},
		{"EncodedSlashUpper", "/a%2Fb", policy.ErrPathForbiddenByte},
		{"Semicolon", "/a;b", policy.ErrPathForbiddenByte},
		{"Backslash", "/a\\b", policy.ErrPathForbiddenByte},
		{"Query", "/a?b", policy.ErrPathForbiddenByte},
		{"BadEscape", "/%zz", policy.ErrPathBadEscape},
		{"BadUTF8", "/%ff", policy.ErrPathBadUTF8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := policy.ParseGlob(tc.glob)
			if err == nil {
				t.Fatalf("ParseGlob(%q): got %q, want an error", tc.glob, g.String())
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("ParseGlob(%q): got error %v, want one wrapping %v", tc.glob, err, tc.is)
			}
		})
	}
}

// globMatchCases are shared with TestDecide_IndexAgreesWithGlobMatch, which
// checks that a role's compiled index decides exactly like Glob.Match.
var globMatchCases = []struct {
	glob string
	path string
	want bool
}{
	// "*" is exactly one segment, never zero or two.
	{"/a/*", "/a", false},
	{"/a/*", "/a/", false},
	{"/a/*", "/a/x", true},
	{"/a/*", "/a/x/", true},
	{"/a/*", "/a/x/y", false},
	{"/a/*", "/b/x", false},
	{"/*", "/", false},
	{"/*", "/a", true},
	{"/*", "/a/b", false},
	{"/*/*", "/a", false},
	{"/*/*", "/a/b", true},
	{"/a/*/c", "/a/b/c", true},
	{"/a/*/c", "/a/c", false},
	// "**" is zero or more segments.
	{"/a/**", "/a", true},
	{"/a/**", "/a/", true},
	{"/a/**", "/a/x", true},
	{"/a/**", "/a/x/y/z", true},
	{"/a/**", "/ab", false},
	{"/a/**", "/b/a", false},
	{"/a/**/b", "/a/b", true},
	{"/a/**/b", "/a/x/b", true},
	{"/a/**/b", "/a/x/y/b", true},
	{"/a/**/b", "/a/b/b", true},
	{"/a/**/b", "/a/x/y", false},
	{"/a/**/b", "/a/b/c", false},
	{"/a/**/b", "/a", false},
	{"/**/x/**", "/x", true},
	{"/**/x/**", "/a/x/b/c", true},
	{"/**/x/**", "/a/b", false},
	{"/**/x", "/a/b/x", true},
	{"/**/x", "/a/x/b", false},
	{"/a/**/*/**", "/a", false},
	{"/a/**/*/**", "/a/b", true},
	// "/" is the root only; "/**" is everything, the root included.
	{"/", "/", true},
	{"/", "/a", false},
	{"/**", "/", true},
	{"/**", "/a", true},
	{"/**", "/a/b/c/", true},
	// Literals are decoded and compared exactly, case-sensitively.
	{"/Employees", "/Employees", true},
	{"/Employees", "/employees", false},
	{"/employees", "/EMPLOYEES", false},
	{"/a", "/a/b", false},
	{"/a/b", "/a", false},
	{"/caf%C3%A9", "/café", true},
	{"/caf%c3%a9", "/caf%C3%A9", true},
	{"/café", "/caf%c3%a9/", true},
	{"/a|b", "/a%7cb", true},
	{"/%61", "/a", true},
}

func TestGlob_Match(t *testing.T) {
	for _, tc := range globMatchCases {
		t.Run(tc.glob+"_"+tc.path, func(t *testing.T) {
			g, err := policy.ParseGlob(tc.glob)
			if err != nil {
				t.Fatalf("ParseGlob(%q): got error %v, want nil", tc.glob, err)
			}
			p, err := policy.ParsePath(tc.path)
			if err != nil {
				t.Fatalf("ParsePath(%q): got error %v, want nil", tc.path, err)
			}
			if got := g.Match(p.Segments); got != tc.want {
				t.Errorf("ParseGlob(%q).Match(%q): got %v, want %v", tc.glob, p.Segments, got, tc.want)
			}
		})
	}
}
