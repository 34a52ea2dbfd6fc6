package proxy

import "testing"

func TestParseInt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		base int
		want int64
		ok   bool
	}{
		{"0", 10, 0, true}, {"1234", 10, 1234, true}, {"ff", 16, 255, true}, {"FF", 16, 255, true},
		{"1a", 10, 0, false}, {"", 10, 0, false}, {"-1", 10, 0, false}, {"\x10", 10, 0, false},
		{"12345678901234567", 10, 0, false}, {"g", 16, 0, false},
	} {
		got, err := parseInt([]byte(tc.in), tc.base)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseInt(%q, %d) = %d, %v; want %d, ok=%v", tc.in, tc.base, got, err, tc.want, tc.ok)
		}
	}
}
