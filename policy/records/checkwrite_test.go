package records

import (
	"strings"
	"testing"
)

func TestCheckWrite(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		lim     Limits
		in      string
		allowed bool
		reason  string
		st      Stats // BytesIn is checked against len(in) when reason == ""
	}{
		{name: "object ok", in: `{"level":1,"name":"x"}`, allowed: true, st: Stats{Records: 1}},
		{name: "object refused", in: `{"level":4}`, st: Stats{Records: 1, Removed: 1}},
		{name: "object missing field refused", in: `{"lvl":1}`, st: Stats{Records: 1, Removed: 1, Errors: 1}},
		{name: "array ok", in: ` [{"level":1}, {"level":3}] `, allowed: true, st: Stats{Records: 2}},
		{name: "array with one refused", in: `[{"level":1},{"level":7},{"level":2}]`, st: Stats{Records: 3, Removed: 1}},
		{name: "empty array", in: `[]`, allowed: true},
		{name: "path is ignored", path: "data", in: `[{"level":1}]`, allowed: true, st: Stats{Records: 1}},
		{name: "non-object element", in: `[{"level":1},[]]`, reason: ReasonNotAnObject},
		{name: "string element", in: `[{"level":1},"x"]`, reason: ReasonNotAnObject},
		{name: "top-level string", in: `"x"`, reason: ReasonRecordsNotFound},
		{name: "duplicate keys", in: `[{"level":1,"level":9}]`, reason: ReasonDuplicateName},
		{name: "case duplicate of read field", in: `{"level":1,"LEVEL":9}`, reason: ReasonDuplicateName},
		{name: "nested duplicate keys", in: `{"level":1,"a":{"b":1,"b":2}}`, reason: ReasonDuplicateName},
		{name: "invalid JSON", in: `{"level":1,}`, reason: ReasonInvalidJSON},
		{name: "invalid JSON after refused record", in: `[{"level":9},{"level":1}`, reason: ReasonInvalidJSON},
		{name: "trailing garbage", in: `{"level":1} {}`, reason: ReasonInvalidJSON},
		{name: "invalid UTF-8", in: "{\"level\":1,\"s\":\"\xc0\"}", reason: ReasonInvalidJSON},
		{name: "record too large", lim: Limits{MaxRecordBytes: 16}, in: `[{"level":1,"x":"abcdef"}]`, reason: ReasonRecordTooLarge},
		{name: "document too large", lim: Limits{MaxDocumentBytes: 20}, in: `[{"level":1},{"level":2}]`, reason: ReasonDocumentTooLarge},
		{name: "too deep", lim: Limits{MaxDepth: 3}, in: `[{"level":1,"a":[[]]}]`, reason: ReasonTooDeep},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPlan(t, tc.path, []string{"level"}, tc.lim)
			allowed, st, err := p.CheckWrite(strings.NewReader(tc.in), levelAtMost(3))
			if got := reasonOf(err); got != tc.reason {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.reason)
			}
			if allowed != tc.allowed {
				t.Fatalf("allowed = %v, want %v", allowed, tc.allowed)
			}
			if tc.reason != "" {
				return
			}
			want := tc.st
			want.BytesIn = int64(len(tc.in)) // the whole body is read
			if st != want {
				t.Errorf("stats %+v, want %+v", st, want)
			}
		})
	}
}
