package proxy

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"
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
	l := newAccessLog(&buf, false)
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

// The text access log (--log-format text) has the JSON line's keys, in
// the same order, as slog.TextHandler writes them.
func TestAccessLog_TextHasTheJSONKeys(t *testing.T) {
	start := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	rec := accessRecord{level: slog.LevelInfo, requestID: "id-1", method: "GET", path: "/hr/a b", status: 403,
		app: "portal", user: "ada", role: "reader", upstream: "hr", decision: "deny", reason: "grant_denied",
		grant: "roles.hcl:3", nearGrant: "roles.hcl:9", nearReason: "overridden_by_deny",
		client: netip.MustParseAddr("192.0.2.1"), errText: "no grant", start: start,
		end: start.Add(1500 * time.Microsecond), filtered: true, records: 3, removed: 1}
	var js, txt syncBuffer
	newAccessLog(&js, false).write(&rec)
	newAccessLog(&txt, true).write(&rec)
	dec := json.NewDecoder(strings.NewReader(js.String()))
	var jsonKeys []string
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' {
				depth++
			} else if v == '}' {
				depth--
			}
		case string:
			if depth == 1 && dec.More() {
				jsonKeys = append(jsonKeys, v)
				_, _ = dec.Token() // its value
			}
		}
	}
	if !strings.Contains(js.String(), `"grant":"roles.hcl:3","near_grant":"roles.hcl:9","near_reason":"overridden_by_deny"`) {
		t.Errorf("JSON line lacks the near miss after grant: %s", js.String())
	}
	line := strings.TrimSpace(txt.String())
	if strings.Count(line, "\n") != 0 || strings.HasPrefix(line, "{") {
		t.Fatalf("text access log is not one key=value line: %q", line)
	}
	var textKeys []string
	for _, m := range regexp.MustCompile(`(?:^| )([a-z_]+)=`).FindAllStringSubmatch(line, -1) {
		textKeys = append(textKeys, m[1])
	}
	if len(jsonKeys) < 19 {
		t.Fatalf("JSON keys %v: too few read", jsonKeys)
	}
	if fmt.Sprint(textKeys) != fmt.Sprint(jsonKeys) {
		t.Errorf("text keys %v\nJSON keys %v", textKeys, jsonKeys)
	}
	for _, want := range []string{"level=INFO", "msg=request", "request_id=id-1", `path="/hr/a b"`, "status=403", "duration_ms=1.5", "client=192.0.2.1", "records_removed=1", `error="no grant"`, "near_grant=roles.hcl:9", "near_reason=overridden_by_deny"} {
		if !strings.Contains(line, want) {
			t.Errorf("text line lacks %s: %s", want, line)
		}
	}
}
