package proxy

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendJSONString_MatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uo\te`, "tab\tnl\nnul\x00", "<a&b>", "caf\xc3\xa9", "bad\xff\xfeutf8", "\u2028\u2029", "\x7f", "日本"} {
		got := string(appendJSONString(nil, s))
		want, _ := json.Marshal(s)
		if got != string(want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("a\"b\\c\x00\xff")
	f.Fuzz(func(t *testing.T, s string) {
		var back string
		if err := json.Unmarshal(appendJSONString(nil, s), &back); err != nil {
			t.Fatalf("%q: invalid JSON: %v", s, err)
		}
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s, want %s (encoding/json)", s, got, want)
		}
		if !utf8.ValidString(back) {
			t.Fatalf("%q: decoded to invalid UTF-8 %q", s, back)
		}
	})
}

func TestAccessLog_ClientZoneIsEscaped(t *testing.T) {
	var buf syncBuffer
	l := newAccessLog(&buf)
	for _, a := range []string{"127.0.0.1", "::1", `fe80::1%"},"x":"`} {
		addr, err := netip.ParseAddr(a)
		if err != nil {
			t.Fatalf("%q: %v", a, err)
		}
		l.write(&accessRecord{client: addr})
	}
	l.write(&accessRecord{})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{"127.0.0.1", "::1", `fe80::1%"},"x":"`, ""}
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d is not JSON: %s", i, line)
		}
		if m["client"] != want[i] || m["x"] != nil {
			t.Errorf("line %d: client %v, want %q (%s)", i, m["client"], want[i], line)
		}
	}
}
