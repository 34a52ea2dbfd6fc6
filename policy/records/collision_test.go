package records

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// Oracles for "some decoder may take these two member names for one",
// written independently of the package's own key: Go's encoding/json
// (strings.EqualFold), .NET's OrdinalIgnoreCase and System.Text.Json
// (ToUpperInvariant per character), Java's String.equalsIgnoreCase (as
// used by Jackson's case-insensitive properties: upper case, then lower
// case of the upper case, per character), lower-casing decoders, and
// decoders written in C that end a name at its first NUL.
func perRune(a, b string, eq func(x, y rune) bool) bool {
	ra, rb := []rune(a), []rune(b)
	if len(ra) != len(rb) {
		return false
	}
	for i := range ra {
		if !eq(ra[i], rb[i]) {
			return false
		}
	}
	return true
}

func collides(a, b string) (bool, string) {
	switch {
	case strings.ContainsRune(a, 0) || strings.ContainsRune(b, 0):
		return true, "NUL"
	case strings.EqualFold(a, b):
		return true, "strings.EqualFold"
	case perRune(a, b, func(x, y rune) bool { return unicode.ToUpper(x) == unicode.ToUpper(y) }):
		return true, "ToUpperInvariant"
	case perRune(a, b, func(x, y rune) bool { return unicode.ToLower(x) == unicode.ToLower(y) }):
		return true, "ToLower"
	case perRune(a, b, func(x, y rune) bool {
		ux, uy := unicode.ToUpper(x), unicode.ToUpper(y)
		return ux == uy || unicode.ToLower(ux) == unicode.ToLower(uy)
	}):
		return true, "equalsIgnoreCase"
	}
	return false, ""
}

func quote(t testing.TB, s string) string {
	b, err := jsontext.AppendQuote(nil, s)
	if err != nil {
		t.Fatalf("quote %q: %v", s, err)
	}
	return string(b)
}

// checkCollision asserts that a record with members read and other, which
// collide, is refused by Filter and CheckWrite, both when the plan reads
// read and when it reads every member, in both member orders, as a record
// of an array, a single object and (for Filter) a record under a path.
func checkCollision(t *testing.T, read, other, why string) {
	t.Helper()
	a, b := quote(t, read), quote(t, other)
	records := []string{
		`{` + a + `:"sales",` + b + `:"ops"}`,
		`{` + b + `:"ops",` + a + `:"sales"}`,
		`{"id":1,` + b + `:{"x":1},` + a + `:"sales"}`,
	}
	for _, fields := range [][]string{{read}, nil, {"id", read}} {
		p, err := NewPlan("", fields, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		pd, err := NewPlan("data", fields, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range records {
			for _, doc := range []string{`[` + rec + `]`, rec, `[{"` + "z" + `":1},` + rec + `]`} {
				if ok, _, err := p.CheckWrite(strings.NewReader(doc), keepAll); ok || reasonOf(err) != ReasonDuplicateName {
					t.Fatalf("CheckWrite(%s) fields %q = %v, %v; want a duplicate_name error (%q and %q collide by %s)", doc, fields, ok, err, read, other, why)
				}
				var out strings.Builder
				if _, err := p.Filter(&out, strings.NewReader(doc), keepAll); reasonOf(err) != ReasonDuplicateName {
					t.Fatalf("Filter(%s) fields %q = %v; want a duplicate_name error (%q and %q collide by %s)", doc, fields, err, read, other, why)
				}
			}
			doc := `{"data":[` + rec + `]}`
			var out strings.Builder
			if _, err := pd.Filter(&out, strings.NewReader(doc), keepAll); reasonOf(err) != ReasonDuplicateName {
				t.Fatalf("Filter(%s) path data fields %q = %v; want a duplicate_name error (%q and %q collide by %s)", doc, fields, err, read, other, why)
			}
		}
	}
}

// Issue 18 (9): member names that another decoder merges with a name the
// filter reads are refused.
func TestNameCollisions(t *testing.T) {
	for _, tc := range []struct{ read, other string }{
		{"level", "Level"},
		{"k", "\u212a"},        // KELVIN SIGN
		{"kind", "\u212aIND"},  // KELVIN SIGN
		{"is", "i\u017f"},      // LATIN SMALL LETTER LONG S
		{"id", "\u0131d"},      // LATIN SMALL LETTER DOTLESS I (.NET, Java: "ID")
		{"id", "\u0130d"},      // LATIN CAPITAL LETTER I WITH DOT ABOVE (Java: "id")
		{"\u0131d", "ID"},      // a read field with a dotless i
		{"level", "level\x00"}, // C decoders end the name at NUL
		{"level", "lev\x00el"}, // NUL anywhere
		{"level", "\x00"},      // NUL alone
		{"\u00e9t\u00e9", "\u00c9T\u00c9"},
	} {
		if ok, _ := collides(tc.read, tc.other); !ok {
			t.Fatalf("oracle: %q and %q do not collide", tc.read, tc.other)
		}
		checkCollision(t, tc.read, tc.other, "table")
	}
	// A path segment's variants are refused the same way.
	p, err := NewPlan("data", []string{"department"}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []string{"Data", "d\u0251ta", "d\u0041ta", "dat\u0041", "data\x00", "\u0064ata\x00x"} {
		doc := `{` + quote(t, other) + `:[],"data":[]}`
		if ok, _ := collides("data", other); !ok {
			continue
		}
		var out strings.Builder
		if _, err := p.Filter(&out, strings.NewReader(doc), keepAll); reasonOf(err) != ReasonDuplicateName {
			t.Errorf("Filter(%s) = %v; want duplicate_name", doc, err)
		}
	}
	// Names that collide with nothing pass.
	p, err = NewPlan("", []string{"id"}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := p.CheckWrite(strings.NewReader(`{"id":1,"idx":2,"\u0131":3,"i\u0307d":4}`), keepAll); !ok || err != nil {
		t.Errorf("CheckWrite of distinct names = %v, %v", ok, err)
	}
}

// FuzzNameCollision: no pair of member names that some decoder merges (see
// collides) passes the filter when one of them is a name the filter reads.
func FuzzNameCollision(f *testing.F) {
	for _, s := range [][2]string{
		{"level", "Level"}, {"k", "\u212a"}, {"id", "\u0131d"}, {"id", "\u0130D"}, {"s", "\u017f"},
		{"level", "level\x00"}, {"ß", "ẞ"}, {"ǅ", "ǆ"}, {"Σ", "ς"}, {"µ", "Μ"}, {"id", "ID"},
		{"department", "DEPARTMENT"}, {"a", "b"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, read, other string) {
		if read == "" || read == other || !utf8.ValidString(read) || !utf8.ValidString(other) ||
			strings.ContainsRune(read, 0) || strings.Contains(read, ".") || len(read)+len(other) > 200 {
			return
		}
		ok, why := collides(read, other)
		if !ok {
			return
		}
		checkCollision(t, read, other, why)
	})
}

// The case key covers each comparison of collides, rune by rune, over all
// of Unicode, and its ASCII fast path agrees with the general one.
func TestCaseKeyCoversDecoders(t *testing.T) {
	key := func(r rune) string { return string(appendCaseKey(nil, string(r))) }
	slow := func(r rune) string {
		r = unicode.ToLower(unicode.ToUpper(r))
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		return string(m)
	}
	first := map[string]map[rune]rune{"fold": {}, "upper": {}, "lower": {}, "title": {}}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if 0xd800 <= r && r <= 0xdfff {
			continue
		}
		if r < utf8.RuneSelf && key(r) != slow(r) {
			t.Fatalf("ASCII %q: key %q, want %q", r, key(r), slow(r))
		}
		fold := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			fold = min(fold, f)
		}
		for rel, img := range map[string]rune{"fold": fold, "upper": unicode.ToUpper(r), "lower": unicode.ToLower(r), "title": unicode.ToTitle(r)} {
			o, ok := first[rel][img]
			if !ok {
				first[rel][img] = r
				continue
			}
			if key(o) != key(r) {
				t.Fatalf("%U and %U are equal by %s, keys %q and %q", o, r, rel, key(o), key(r))
			}
		}
	}
}
