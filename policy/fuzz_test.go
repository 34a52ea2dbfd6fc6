package policy_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// encodedForbidden are escapes that must never survive into a canonical
// path, in upper case: the check upper-cases Escaped first. Encoded
// separators, dots, NUL, "%", "?" and "#" are either refused or decoded.
var encodedForbidden = []string{
	"%2F", // /
	"%5C", // \
	"%00", // NUL
	"%2E", // .
	"%3B", // ;
	"%25", // %
	"%3F", // ?
	"%23", // #
}

func FuzzParsePath(f *testing.F) {
	for _, tc := range acceptedPaths {
		f.Add(tc.raw)
	}
	for _, tc := range refusedPaths {
		f.Add(tc.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := policy.ParsePath(raw)
		if err != nil {
			if p.Escaped != "" || p.Segments != nil {
				t.Fatalf("ParsePath(%q) = error %v with non-zero Path %q", raw, err, p.Escaped)
			}
			return
		}
		esc := p.Escaped
		if !strings.HasPrefix(esc, "/") {
			t.Fatalf("ParsePath(%q).Escaped: got %q, want a leading /", raw, esc)
		}
		if len(esc) > policy.MaxPathBytes {
			t.Fatalf("ParsePath(%q).Escaped: got %d bytes, want at most %d", raw, len(esc), policy.MaxPathBytes)
		}
		if len(p.Segments) > policy.MaxPathSegments {
			t.Fatalf("ParsePath(%q): got %d segments, want at most %d", raw, len(p.Segments), policy.MaxPathSegments)
		}
		if strings.Contains(esc, "//") {
			t.Fatalf("ParsePath(%q).Escaped: got %q, contains //", raw, esc)
		}
		upper := strings.ToUpper(esc)
		for _, e := range encodedForbidden {
			if strings.Contains(upper, e) {
				t.Fatalf("ParsePath(%q).Escaped: got %q, contains %s (any case)", raw, esc, e)
			}
		}
		if strings.ContainsAny(esc, "\\;?# \x00\x7f") {
			t.Fatalf("ParsePath(%q).Escaped: got %q, contains a forbidden raw byte", raw, esc)
		}
		for _, s := range p.Segments {
			switch {
			case s == "", s == ".", s == "..":
				t.Fatalf("ParsePath(%q): got segment %q in %q", raw, s, p.Segments)
			case strings.ContainsAny(s, "/\\\x00;%"):
				t.Fatalf("ParsePath(%q): got segment %q containing a separator, NUL, ; or %%", raw, s)
			}
		}
		// Escaped is the segments joined, plus the trailing slash if any.
		if want := strings.Count(strings.TrimSuffix(esc, "/"), "/"); esc != "/" && want != len(p.Segments) {
			t.Fatalf("ParsePath(%q): got %d segments for %q, want %d", raw, len(p.Segments), esc, want)
		}
		q, err := policy.ParsePath(esc)
		if err != nil {
			t.Fatalf("ParsePath(%q) (canonical of %q): got error %v, want nil", esc, raw, err)
		}
		if q.Escaped != esc || !slices.Equal(q.Segments, p.Segments) {
			t.Fatalf("ParsePath(%q) (canonical of %q): got (%q, %q), want (%q, %q)",
				esc, raw, q.Escaped, q.Segments, esc, p.Segments)
		}
	})
}
