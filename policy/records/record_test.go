package records

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// naiveScanString is the obvious byte loop scanString must agree with.
func naiveScanString(v []byte, i int) (int, bool, bool) {
	esc, non := false, false
	for j := i + 1; j < len(v); j++ {
		switch c := v[j]; {
		case c == '"':
			return j + 1, esc, non
		case c == '\\':
			esc = true
			j++
		case c >= 0x80:
			non = true
		}
	}
	return -1, esc, non
}

// TestScanString compares the word-at-a-time scanner with the byte loop on
// random strings of quotes, backslashes, non-ASCII and plain bytes at every
// alignment.
func TestScanString(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{'a', 'b', '"', '\\', 0xc3, 0xa9, 0x80, 0xff, ' ', '0', 0x7f, 0x22 ^ 0x80, 0x5c ^ 0x80, 0x01, 0x21, 0x23, 0x5b, 0x5d}
	for n := 0; n < 200000; n++ {
		l := rng.IntN(40)
		v := make([]byte, l+1)
		v[0] = '"'
		for k := 1; k <= l; k++ {
			if rng.IntN(3) == 0 {
				v[k] = alphabet[rng.IntN(len(alphabet))]
			} else {
				v[k] = byte('c' + rng.IntN(20))
			}
		}
		e1, s1, n1 := scanString(v, 0)
		e2, s2, n2 := naiveScanString(v, 0)
		if e1 != e2 || (e1 >= 0 && (s1 != s2 || n1 != n2)) {
			t.Fatalf("%q: got %d %v %v, want %d %v %v", v, e1, s1, n1, e2, s2, n2)
		}
	}
}

func TestFoldHelpers(t *testing.T) {
	for _, tc := range []struct {
		names []string
		dup   bool
	}{
		{[]string{"a", "b"}, false},
		{[]string{"level", "Level"}, true},
		{[]string{"k", "\u212a"}, true},
		{[]string{"s", "\u017f"}, true},
		{[]string{"straße", "STRASSE"}, false},
		{[]string{"ab", "abc"}, false},
	} {
		if got := foldDup(tc.names); got != tc.dup {
			t.Errorf("foldDup(%q) = %v", tc.names, got)
		}
		// The map-based path for many names must agree.
		many := append([]string{}, tc.names...)
		for i := range 20 {
			many = append(many, "pad"+strings.Repeat("x", i))
		}
		if got := foldDup(many); got != tc.dup {
			t.Errorf("foldDup(many %q) = %v", tc.names, got)
		}
	}
}
