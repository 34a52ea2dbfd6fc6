package policy_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// acceptedPaths are raw paths ParsePath accepts, with their canonical form.
var acceptedPaths = []struct {
	name    string
	raw     string
	escaped string
	segs    []string
}{
	{"Root", "/", "/", nil},
	{"OneSegment", "/a", "/a", []string{"a"}},
	{"ThreeSegments", "/a/b/c", "/a/b/c", []string{"a", "b", "c"}},
	{"TrailingSlashKeptNoEmptySegment", "/a/", "/a/", []string{"a"}},
	{"TrailingSlashDeep", "/a/b/", "/a/b/", []string{"a", "b"}},
	{"UnreservedEscapeDecoded", "/a/%61", "/a/a", []string{"a", "a"}},
	{"UnreservedEscapesDecoded", "/%41%42/%7e%2D%5F", "/AB/~-_", []string{"AB", "~-_"}},
	{"EncodedDotInsideSegment", "/a%2Eb", "/a.b", []string{"a.b"}},
	{"LowerCaseEscapeUpperCased", "/caf%c3%a9", "/caf%C3%A9", []string{"café"}},
	{"MixedCaseEscapeUpperCased", "/caf%C3%a9", "/caf%C3%A9", []string{"café"}},
	{"CanonicalEscapeKept", "/caf%C3%A9", "/caf%C3%A9", []string{"café"}},
	{"RawUTF8Escaped", "/café/日本", "/caf%C3%A9/%E6%97%A5%E6%9C%AC", []string{"café", "日本"}},
	{"RawPipeEscaped", "/a|b", "/a%7Cb", []string{"a|b"}},
	{"EncodedPipeUpperCased", "/a%7cb", "/a%7Cb", []string{"a|b"}},
	{"RawQuoteAndBracketsEscaped", `/a"[b]`, "/a%22%5Bb%5D", []string{`a"[b]`}},
	{"EncodedSpaceKept", "/a%20b", "/a%20b", []string{"a b"}},
	{"SubDelimsKept", "/a:b@c!$&'()*+,=", "/a:b@c!$&'()*+,=", []string{"a:b@c!$&'()*+,="}},
	{"EncodedSubDelimDecoded", "/%2A%3D", "/*=", []string{"*="}},
	{"DotsInsideSegment", "/..a/a./.../.a.", "/..a/a./.../.a.", []string{"..a", "a.", "...", ".a."}},
	{"EncodedThreeDots", "/%2e%2e%2e", "/...", []string{"..."}},
	{"CaseKept", "/Employees/ID", "/Employees/ID", []string{"Employees", "ID"}},
	{"MaxBytes", "/" + strings.Repeat("a", policy.MaxPathBytes-1), "/" + strings.Repeat("a", policy.MaxPathBytes-1), []string{strings.Repeat("a", policy.MaxPathBytes-1)}},
	{"MaxBytesOnceEscaped", "/" + strings.Repeat("|", (policy.MaxPathBytes-1)/3), "/" + strings.Repeat("%7C", (policy.MaxPathBytes-1)/3), []string{strings.Repeat("|", (policy.MaxPathBytes-1)/3)}},
	{"MaxSegments", strings.Repeat("/a", policy.MaxPathSegments), strings.Repeat("/a", policy.MaxPathSegments), slices.Repeat([]string{"a"}, policy.MaxPathSegments)},
	{"MaxSegmentsTrailingSlash", strings.Repeat("/a", policy.MaxPathSegments) + "/", strings.Repeat("/a", policy.MaxPathSegments) + "/", slices.Repeat([]string{"a"}, policy.MaxPathSegments)},
}

// refusedPaths are raw paths ParsePath refuses, with the sentinel it returns.
var refusedPaths = []struct {
	name string
	raw  string
	want error
}{
	{"Empty", "", policy.ErrPathNotAbsolute},
	{"Relative", "a", policy.ErrPathNotAbsolute},
	{"AbsoluteURL", "http://h/a", policy.ErrPathNotAbsolute},
	{"DoubleSlash", "//", policy.ErrPathEmptySegment},
	{"EmptySegment", "/a//b", policy.ErrPathEmptySegment},
	{"LeadingDoubleSlash", "//a", policy.ErrPathEmptySegment},
	{"DoubleTrailingSlash", "/a//", policy.ErrPathEmptySegment},
	{"Dot", "/.", policy.ErrPathDotSegment},
	{"DotDot", "/..", policy.ErrPathDotSegment},
	{"DotTrailingSlash", "/./", policy.ErrPathDotSegment},
	{"DotInside", "/a/./b", policy.ErrPathDotSegment},
	{"DotDotInside", "/a/../b", policy.ErrPathDotSegment},
	{"DotDotLast", "/a/..", policy.ErrPathDotSegment},
	{"EncodedDot", "/%2e", policy.ErrPathDotSegment},
	{"EncodedDotUpper", "/%2E", policy.ErrPathDotSegment},
	{"EncodedDotDotMixedCase", "/%2E%2e", policy.ErrPathDotSegment},
	{"HalfEncodedDotDot", "/.%2e/", policy.ErrPathDotSegment},
	{"EncodedDotDotInside", "/a/%2e%2E/b", policy.ErrPathDotSegment},
	{"EncodedSlashLower", "/a%2fb", policy.ErrPathForbiddenByte},
	{"EncodedSlashUpper", "/a%2Fb", policy.ErrPathForbiddenByte},
	{"EncodedBackslash", "/a%5cb", policy.ErrPathForbiddenByte},
	{"EncodedBackslashUpper", "/a%5Cb", policy.ErrPathForbiddenByte},
	{"RawBackslash", "/a\\b", policy.ErrPathForbiddenByte},
	{"EncodedNUL", "/a%00", policy.ErrPathForbiddenByte},
	{"RawNUL", "/a\x00", policy.ErrPathForbiddenByte},
	{"RawSemicolon", "/a;b", policy.ErrPathForbiddenByte},
	{"EncodedSemicolon", "/a%3bb", policy.ErrPathForbiddenByte},
	{"EncodedHash", "/a%23", policy.ErrPathForbiddenByte},
	{"EncodedQuestion", "/a%3f", policy.ErrPathForbiddenByte},
	{"RawHash", "/a#b", policy.ErrPathForbiddenByte},
	{"RawQuestion", "/a?b", policy.ErrPathForbiddenByte},
	{"RawSpace", "/a b", policy.ErrPathForbiddenByte},
	{"RawTab", "/a\tb", policy.ErrPathForbiddenByte},
	{"RawDEL", "/a\x7f", policy.ErrPathForbiddenByte},
	{"EncodedNewline", "/a%0A", policy.ErrPathForbiddenByte},
	{"EncodedDEL", "/a%7f", policy.ErrPathForbiddenByte},
	{"EncodedPercent", "/%25", policy.ErrPathForbiddenByte},
	{"DoubleEncodedSlash", "/a%252fb", policy.ErrPathForbiddenByte},
	{"BadHex", "/%zz", policy.ErrPathBadEscape},
	{"TruncatedEscape", "/%4", policy.ErrPathBadEscape},
	{"BarePercent", "/%", policy.ErrPathBadEscape},
	{"PercentAtEnd", "/a%", policy.ErrPathBadEscape},
	{"PercentPercent", "/%%41", policy.ErrPathBadEscape},
	{"EncodedInvalidUTF8", "/%ff", policy.ErrPathBadUTF8},
	{"EncodedTruncatedUTF8", "/caf%C3", policy.ErrPathBadUTF8},
	{"EncodedOverlongSlash", "/%C0%AF", policy.ErrPathBadUTF8},
	{"RawInvalidUTF8", "/a\xff", policy.ErrPathBadUTF8},
	{"TooLong", "/" + strings.Repeat("a", policy.MaxPathBytes), policy.ErrPathTooLong},
	{"TooManySegments", strings.Repeat("/a", policy.MaxPathSegments+1), policy.ErrPathTooLong},
	// The limit holds for the canonical form too: a short raw path whose
	// escaping would take it over MaxPathBytes is refused, so the proxy
	// never forwards a path longer than it would accept.
	{"TooLongOnceEscaped", "/" + strings.Repeat("|", policy.MaxPathBytes/3+1), policy.ErrPathTooLong},
}

// short keeps failure messages readable for the very long inputs.
func short(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

func TestParsePath_Accepted(t *testing.T) {
	for _, tc := range acceptedPaths {
		t.Run(tc.name, func(t *testing.T) {
			p, err := policy.ParsePath(tc.raw)
			if err != nil {
				t.Fatalf("ParsePath(%q): got error %v, want nil", short(tc.raw), err)
			}
			if p.Escaped != tc.escaped {
				t.Errorf("ParsePath(%q).Escaped: got %q, want %q", short(tc.raw), short(p.Escaped), short(tc.escaped))
			}
			if !slices.Equal(p.Segments, tc.segs) {
				t.Errorf("ParsePath(%q).Segments: got %d %q, want %d %q", short(tc.raw), len(p.Segments), p.Segments, len(tc.segs), tc.segs)
			}
		})
	}
}

func TestParsePath_Refused(t *testing.T) {
	for _, tc := range refusedPaths {
		t.Run(tc.name, func(t *testing.T) {
			p, err := policy.ParsePath(tc.raw)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParsePath(%q): got (%q, %v), want error %v", short(tc.raw), short(p.Escaped), err, tc.want)
			}
			if p.Escaped != "" || p.Segments != nil {
				t.Errorf("ParsePath(%q) with error: got Path %q, want zero Path", short(tc.raw), short(p.Escaped))
			}
		})
	}
}

// TestParsePath_FixedPoint checks the documented contract: the canonical form
// of an accepted path parses to itself, with the same segments.
func TestParsePath_FixedPoint(t *testing.T) {
	for _, tc := range acceptedPaths {
		t.Run(tc.name, func(t *testing.T) {
			p, err := policy.ParsePath(tc.raw)
			if err != nil {
				t.Fatalf("ParsePath(%q): got error %v, want nil", short(tc.raw), err)
			}
			q, err := policy.ParsePath(p.Escaped)
			if err != nil {
				t.Fatalf("ParsePath(%q) (canonical of %q): got error %v, want nil", short(p.Escaped), short(tc.raw), err)
			}
			if q.Escaped != p.Escaped {
				t.Errorf("ParsePath(%q).Escaped: got %q, want the same", short(p.Escaped), short(q.Escaped))
			}
			if !slices.Equal(q.Segments, p.Segments) {
				t.Errorf("ParsePath(%q).Segments: got %q, want %q", short(p.Escaped), q.Segments, p.Segments)
			}
		})
	}
}

// TestParsePath_EncodingsDecideAlike checks that every spelling of one path
// yields the same canonical form, so the policy and the upstream cannot see
// two different paths.
func TestParsePath_EncodingsDecideAlike(t *testing.T) {
	spellings := []string{"/café/x", "/caf%c3%a9/x", "/caf%C3%A9/x", "/caf%C3%a9/%78", "/%63af%c3%a9/x"}
	var first policy.Path
	for i, raw := range spellings {
		p, err := policy.ParsePath(raw)
		if err != nil {
			t.Fatalf("ParsePath(%q): got error %v, want nil", raw, err)
		}
		if i == 0 {
			first = p
			continue
		}
		if p.Escaped != first.Escaped || !slices.Equal(p.Segments, first.Segments) {
			t.Errorf("ParsePath(%q): got (%q, %q), want (%q, %q) as for %q",
				raw, p.Escaped, p.Segments, first.Escaped, first.Segments, spellings[0])
		}
	}
}
