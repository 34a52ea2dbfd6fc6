package records

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
)

func mustPlan(t testing.TB, path string, fields []string, lim Limits) *Plan {
	t.Helper()
	p, err := NewPlan(path, fields, lim)
	if err != nil {
		t.Fatalf("NewPlan(%q, %q): %v", path, fields, err)
	}
	return p
}

// levelAtMost is the test predicate `record.level <= max`: a missing or
// non-number level is an error, as it would be for expr.
func levelAtMost(max float64) Predicate {
	return func(rec map[string]any) (bool, error) {
		l, ok := rec["level"].(float64)
		if !ok {
			return false, fmt.Errorf("level is %T", rec["level"])
		}
		return l <= max, nil
	}
}

func keepAll(map[string]any) (bool, error)  { return true, nil }
func keepNone(map[string]any) (bool, error) { return false, nil }

func reasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	if err != nil {
		return "other: " + err.Error()
	}
	return ""
}

func TestFilter(t *testing.T) {
	lvl := []string{"level"}
	tests := []struct {
		name   string
		path   string
		fields []string
		lim    Limits
		pred   Predicate // default levelAtMost(3)
		in     string
		want   string // expected output when reason == ""
		reason string // expected Error.Reason
		wantSt *Stats // checked when non-nil (BytesIn/Out ignored)
	}{
		// Shapes.
		{name: "top-level array", fields: lvl,
			in:     `[{"level":1},{"level":5},{"level":2}]`,
			want:   `[{"level":1},{"level":2}]`,
			wantSt: &Stats{Records: 3, Removed: 1}},
		{name: "first removed", fields: lvl,
			in:   `[{"level":9},{"level":1},{"level":2}]`,
			want: `[{"level":1},{"level":2}]`},
		{name: "last removed", fields: lvl,
			in:   `[{"level":1},{"level":2},{"level":9}]`,
			want: `[{"level":1},{"level":2}]`},
		{name: "leading removed with whitespace", fields: lvl,
			in:   "[\n  {\"level\":9},\n  {\"level\":8},\n  {\"level\":1},\n  {\"level\":2}\n]\n",
			want: "[\n  {\"level\":1},\n  {\"level\":2}\n]\n"},
		{name: "all removed", fields: lvl,
			in:     "[ {\"level\":9} , {\"level\":8} ]",
			want:   "[  ]",
			wantSt: &Stats{Records: 2, Removed: 2}},
		{name: "empty array", fields: lvl, in: " [ ] ", want: " [ ] ",
			wantSt: &Stats{}},
		{name: "dot path one level", path: "data", fields: lvl,
			in:   `{"data":[{"level":1},{"level":5},{"level":2}],"total":3,"next":"x"}`,
			want: `{"data":[{"level":1},{"level":2}],"total":3,"next":"x"}`},
		{name: "dot path not first member", path: "data", fields: lvl,
			in:   `{"total":3,"meta":{"data":[{"level":9}]},"data":[{"level":5},{"level":2}]}`,
			want: `{"total":3,"meta":{"data":[{"level":9}]},"data":[{"level":2}]}`},
		{name: "dot path two levels", path: "result.items", fields: lvl,
			in:   `{"ok":true,"result":{"n":2,"items":[{"level":7},{"level":3}],"more":[1,{"a":[]}]},"x":null}`,
			want: `{"ok":true,"result":{"n":2,"items":[{"level":3}],"more":[1,{"a":[]}]},"x":null}`},
		{name: "dot path empty array", path: "data", fields: lvl,
			in: `{"data":[],"total":0}`, want: `{"data":[],"total":0}`},
		{name: "single object kept", fields: lvl,
			in: " {\"level\":1,\"name\":\"a\"}\n", want: " {\"level\":1,\"name\":\"a\"}\n",
			wantSt: &Stats{Records: 1}},
		{name: "single object removed", fields: lvl,
			in: `{"level":5,"name":"a"}`, reason: "refused",
			wantSt: &Stats{Records: 1, Removed: 1}},
		{name: "predicate error removes", fields: []string{"nope"},
			in: `[{"level":1}]`, want: `[]`,
			wantSt: &Stats{Records: 1, Removed: 1, Errors: 1}},
		{name: "escaped member name is decoded", fields: lvl,
			in: `[{"le\u0076el":1},{"lev\u0065l":9}]`, want: `[{"le\u0076el":1}]`},
		{name: "unicode and escapes kept verbatim", fields: lvl,
			in:   `[{"level":1,"s":"h\u00e9llo \"q\" \\ é 日本"},{"level":4}]`,
			want: `[{"level":1,"s":"h\u00e9llo \"q\" \\ é 日本"}]`},

		// Path problems.
		{name: "path to object", path: "data", fields: lvl, in: `{"data":{"level":1}}`, reason: ReasonRecordsNotFound},
		{name: "path to null", path: "data", fields: lvl, in: `{"data":null}`, reason: ReasonRecordsNotFound},
		{name: "path missing", path: "data", fields: lvl, in: `{"items":[{"level":1}]}`, reason: ReasonRecordsNotFound},
		{name: "path intermediate not object", path: "result.items", fields: lvl, in: `{"result":[{"items":[]}]}`, reason: ReasonRecordsNotFound},
		{name: "path intermediate missing", path: "result.items", fields: lvl, in: `{"items":[]}`, reason: ReasonRecordsNotFound},
		{name: "path with top-level array", path: "data", fields: lvl, in: `[{"level":1}]`, reason: ReasonRecordsNotFound},
		{name: "top-level string", fields: lvl, in: `"x"`, reason: ReasonRecordsNotFound},
		{name: "top-level number", fields: lvl, in: `12`, reason: ReasonRecordsNotFound},
		{name: "top-level null", fields: lvl, in: `null`, reason: ReasonRecordsNotFound},
		{name: "case variant of path segment", path: "data", fields: lvl,
			in: `{"data":[{"level":1}],"Data":[{"level":9}]}`, reason: ReasonDuplicateName},
		{name: "only case variant of path segment", path: "data", fields: lvl,
			in: `{"Data":[{"level":9}]}`, reason: ReasonRecordsNotFound},
		{name: "duplicate path member", path: "data", fields: lvl,
			in: `{"data":[],"data":[{"level":9}]}`, reason: ReasonDuplicateName},

		// Records that are not objects.
		{name: "record is number", fields: lvl, in: `[{"level":1},2]`, reason: ReasonNotAnObject},
		{name: "record is string", fields: lvl, in: `["x"]`, reason: ReasonNotAnObject},
		{name: "record is array", fields: lvl, in: `[[{"level":1}]]`, reason: ReasonNotAnObject},
		{name: "record is null", fields: lvl, in: `[null]`, reason: ReasonNotAnObject},
		{name: "record is bool under path", path: "data", fields: lvl, in: `{"data":[true]}`, reason: ReasonNotAnObject},

		// Syntax.
		{name: "empty input", fields: lvl, in: ``, reason: ReasonInvalidJSON},
		{name: "whitespace only", fields: lvl, in: " \n", reason: ReasonInvalidJSON},
		{name: "truncated in record", fields: lvl, in: `[{"level":1},{"lev`, reason: ReasonInvalidJSON},
		{name: "truncated after record", fields: lvl, in: `[{"level":1},`, reason: ReasonInvalidJSON},
		{name: "truncated array", fields: lvl, in: `[{"level":1}`, reason: ReasonInvalidJSON},
		{name: "truncated surrounding", path: "data", fields: lvl, in: `{"data":[{"level":1}],"tot`, reason: ReasonInvalidJSON},
		{name: "truncated surrounding object", path: "data", fields: lvl, in: `{"data":[{"level":1}]`, reason: ReasonInvalidJSON},
		{name: "truncated before path", path: "data", fields: lvl, in: `{"meta":{"a":[1,`, reason: ReasonInvalidJSON},
		{name: "truncated single object", fields: lvl, in: `{"level":1`, reason: ReasonInvalidJSON},
		{name: "trailing garbage", fields: lvl, in: `[{"level":1}] x`, reason: ReasonInvalidJSON},
		{name: "trailing second value", fields: lvl, in: `[{"level":1}] [{"level":9}]`, reason: ReasonInvalidJSON},
		{name: "trailing after single object", fields: lvl, in: `{"level":1}{}`, reason: ReasonInvalidJSON},
		{name: "trailing comma", fields: lvl, in: `[{"level":1},]`, reason: ReasonInvalidJSON},
		{name: "missing comma", fields: lvl, in: `[{"level":1} {"level":2}]`, reason: ReasonInvalidJSON},
		{name: "bad literal in record", fields: lvl, in: `[{"level":1,"a":tru}]`, reason: ReasonInvalidJSON},
		{name: "single quotes", fields: lvl, in: `[{'level':1}]`, reason: ReasonInvalidJSON},
		{name: "invalid UTF-8 in record", fields: lvl, in: "[{\"level\":1,\"n\":\"\xff\"}]", reason: ReasonInvalidJSON},
		{name: "invalid UTF-8 in name", fields: lvl, in: "[{\"level\":1,\"\xc3\":1}]", reason: ReasonInvalidJSON},
		{name: "invalid UTF-8 outside records", path: "data", fields: lvl, in: "{\"n\":\"\xed\xa0\x80\",\"data\":[]}", reason: ReasonInvalidJSON},
		{name: "lone surrogate escape", fields: lvl, in: `[{"level":1,"n":"\ud800"}]`, reason: ReasonInvalidJSON},
		{name: "BOM", fields: lvl, in: "\xef\xbb\xbf[]", reason: ReasonInvalidJSON},

		// Duplicate names.
		{name: "duplicate keys in record", fields: lvl, in: `[{"level":1,"level":9}]`, reason: ReasonDuplicateName},
		{name: "duplicate unread keys in record", fields: lvl, in: `[{"level":1,"a":1,"a":2}]`, reason: ReasonDuplicateName},
		{name: "duplicate keys via escape", fields: lvl, in: `[{"level":9,"le\u0076el":1}]`, reason: ReasonDuplicateName},
		{name: "nested duplicate keys", fields: lvl, in: `[{"level":1,"meta":{"x":[{"a":1,"a":2}]}}]`, reason: ReasonDuplicateName},
		{name: "level and Level when read", fields: lvl, in: `[{"level":1,"Level":9}]`, reason: ReasonDuplicateName},
		{name: "Level and LEVEL when read", fields: lvl, in: `[{"Level":1,"LEVEL":9}]`, reason: ReasonDuplicateName},
		{name: "level and Kelvin-sign variant", fields: []string{"k"}, pred: keepAll,
			in: `[{"k":1,"` + "\u212a" + `":2}]`, reason: ReasonDuplicateName},
		{name: "level and Level when not read", fields: []string{"department"},
			pred: func(rec map[string]any) (bool, error) { return rec["department"] == "sales", nil },
			in:   `[{"department":"sales","level":1,"Level":9}]`,
			want: `[{"department":"sales","level":1,"Level":9}]`},
		{name: "lone case variant is just another member", fields: lvl,
			in: `[{"Level":1}]`, want: `[]`, wantSt: &Stats{Records: 1, Removed: 1, Errors: 1}},
		{name: "case variants inside a read field", fields: []string{"attrs"}, pred: keepAll,
			in: `[{"attrs":{"role":"user","Role":"admin"}}]`, reason: ReasonDuplicateName},
		{name: "case variants inside an unread field", fields: lvl,
			in: `[{"level":1,"attrs":{"role":"user","Role":"admin"}}]`, want: `[{"level":1,"attrs":{"role":"user","Role":"admin"}}]`},
		{name: "case variants with all fields", fields: nil, pred: keepAll,
			in: `[{"a":1,"A":2}]`, reason: ReasonDuplicateName},

		// Depth: array 1, record 2, ...
		{name: "depth at limit", fields: lvl, lim: Limits{MaxDepth: 4},
			in: `[{"level":1,"a":{"b":[]}}]`, want: `[{"level":1,"a":{"b":[]}}]`},
		{name: "too deep in unread field", fields: lvl, lim: Limits{MaxDepth: 4},
			in: `[{"level":1,"a":{"b":[{}]}}]`, reason: ReasonTooDeep},
		{name: "too deep in read field", fields: []string{"a"}, pred: keepAll, lim: Limits{MaxDepth: 4},
			in: `[{"a":{"b":[{}]}}]`, reason: ReasonTooDeep},
		{name: "too deep with all fields", fields: nil, pred: keepAll, lim: Limits{MaxDepth: 4},
			in: `[{"a":{"b":[[1]]}}]`, reason: ReasonTooDeep},
		{name: "too deep in string-heavy record", fields: lvl, lim: Limits{MaxDepth: 3},
			in: `[{"level":1,"s":"[[[[{{{{","a":[{"x":"]]]]}}}"}]}]`, reason: ReasonTooDeep},
		{name: "brackets in strings do not count", fields: lvl, lim: Limits{MaxDepth: 3},
			in: `[{"level":1,"s":"[[[[{{{{\"","a":["]]]]}}}"]}]`, want: `[{"level":1,"s":"[[[[{{{{\"","a":["]]]]}}}"]}]`},
		{name: "too deep outside records", path: "data", fields: lvl, lim: Limits{MaxDepth: 4},
			in: `{"meta":[[[[1]]]],"data":[]}`, reason: ReasonTooDeep},
		{name: "too deep path", path: "a.b", fields: lvl, lim: Limits{MaxDepth: 4},
			in: `{"a":{"b":[{"level":1,"x":{}}]}}`, reason: ReasonTooDeep},
		{name: "too deep single object", fields: lvl, lim: Limits{MaxDepth: 2},
			in: `{"level":1,"x":{"y":{}}}`, reason: ReasonTooDeep},
		{name: "too deep by default", fields: lvl,
			in: `[{"level":1,"x":` + strings.Repeat("[", 63) + strings.Repeat("]", 63) + `}]`, reason: ReasonTooDeep},
		{name: "depth past jsontext's own limit", fields: lvl,
			in: `[{"level":1,"x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}]`, reason: ReasonTooDeep},

		// Sizes.
		{name: "record at size limit", fields: lvl, lim: Limits{MaxRecordBytes: 21},
			in: `[{"level":1,"x":"abc"}]`, want: `[{"level":1,"x":"abc"}]`},
		{name: "record too large", fields: lvl, lim: Limits{MaxRecordBytes: 21},
			in: `[{"level":1,"x":"abcd"}]`, reason: ReasonRecordTooLarge},
		{name: "record too large streamed", fields: lvl, lim: Limits{MaxRecordBytes: 100},
			in: `[{"level":1,"x":"` + strings.Repeat("a", 100000) + `"}]`, reason: ReasonRecordTooLarge},
		{name: "single object too large", fields: lvl, lim: Limits{MaxRecordBytes: 10},
			in: `{"level":1,"x":"abcd"}`, reason: ReasonRecordTooLarge},
		{name: "string outside records too large", path: "data", fields: lvl, lim: Limits{MaxRecordBytes: 100},
			in: `{"note":"` + strings.Repeat("a", 100000) + `","data":[]}`, reason: ReasonRecordTooLarge},
		{name: "large value outside records is fine", path: "data", fields: lvl, lim: Limits{MaxRecordBytes: 100},
			in:   `{"note":[` + strings.Repeat(`"aaaaaaaaaa",`, 10000) + `1],"data":[]}`,
			want: `{"note":[` + strings.Repeat(`"aaaaaaaaaa",`, 10000) + `1],"data":[]}`},
		{name: "document at size limit", fields: lvl, lim: Limits{MaxDocumentBytes: 13},
			in: `[{"level":1}]`, want: `[{"level":1}]`},
		{name: "document too large", fields: lvl, lim: Limits{MaxDocumentBytes: 13},
			in: `[{"level":1}] `, reason: ReasonDocumentTooLarge},
		{name: "document too large midway", fields: lvl, lim: Limits{MaxDocumentBytes: 100},
			in: `[` + strings.Repeat(`{"level":1},`, 100) + `{"level":1}]`, reason: ReasonDocumentTooLarge},

		// Numbers.
		{name: "integer beyond 2^53 in read field removes", fields: lvl,
			in: `[{"level":9007199254740993},{"level":-9007199254740992},{"level":9007199254740991}]`, pred: keepAll,
			want: `[{"level":9007199254740991}]`, wantSt: &Stats{Records: 3, Removed: 2, Errors: 2}},
		{name: "float overflow in read field removes", fields: lvl, pred: keepAll,
			in: `[{"level":1e400},{"level":1.5e3}]`, want: `[{"level":1.5e3}]`},
		{name: "big number in unread field is fine", fields: lvl,
			in: `[{"level":1,"id":18446744073709551617}]`, want: `[{"level":1,"id":18446744073709551617}]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPlan(t, tc.path, tc.fields, tc.lim)
			pred := tc.pred
			if pred == nil {
				pred = levelAtMost(3)
			}
			var out bytes.Buffer
			st, err := p.Filter(&out, strings.NewReader(tc.in), pred)
			if tc.reason == "refused" {
				if !errors.Is(err, ErrRefused) {
					t.Fatalf("err = %v, want ErrRefused", err)
				}
				if out.Len() != 0 {
					t.Fatalf("wrote %q for a refused object", out.String())
				}
			} else if tc.reason != "" {
				if got := reasonOf(err); got != tc.reason {
					t.Fatalf("reason = %q (err %v), want %q", got, err, tc.reason)
				}
				return
			} else {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if out.String() != tc.want {
					t.Fatalf("output\n got %q\nwant %q", out.String(), tc.want)
				}
				if st.BytesIn != int64(len(tc.in)) || st.BytesOut != int64(out.Len()) {
					t.Errorf("BytesIn/Out = %d/%d, want %d/%d", st.BytesIn, st.BytesOut, len(tc.in), out.Len())
				}
			}
			if tc.wantSt != nil {
				got := st
				got.BytesIn, got.BytesOut = 0, 0
				if got != *tc.wantSt {
					t.Errorf("stats = %+v, want %+v", got, *tc.wantSt)
				}
			}
		})
	}
}

// TestBytePreservation pins down exactly which bytes are kept: everything
// except each removed element and the separator before it (or, for the first
// kept element after removed ones, the separator before that element).
func TestBytePreservation(t *testing.T) {
	p := mustPlan(t, "data", []string{"level"}, Limits{})
	in := "\t{ \"data\" :\n  [ {\"id\":1 ,  \"level\": 1}  ,\n\t{\"id\":2,\"level\":7} ,{ \"id\" : 3,\"level\":2.0e0 }\r\n ] ,\"total\":3,\n \"meta\":{\"x\":[1, 2]}  }\n\n"
	want := "\t{ \"data\" :\n  [ {\"id\":1 ,  \"level\": 1} ,{ \"id\" : 3,\"level\":2.0e0 }\r\n ] ,\"total\":3,\n \"meta\":{\"x\":[1, 2]}  }\n\n"
	var out bytes.Buffer
	st, err := p.Filter(&out, strings.NewReader(in), levelAtMost(3))
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != want {
		t.Fatalf("got  %q\nwant %q", out.String(), want)
	}
	if st != (Stats{Records: 3, Removed: 1, BytesIn: int64(len(in)), BytesOut: int64(len(want))}) {
		t.Errorf("stats = %+v", st)
	}

	// Removing the leading elements keeps the whitespace after '[' and
	// drops the separator before the first kept element.
	in = "{\"data\": [ {\"level\":9} ,\n {\"level\":8},  {\"level\":1} , {\"level\":2}  ], \"total\":4}"
	want = "{\"data\": [ {\"level\":1} , {\"level\":2}  ], \"total\":4}"
	out.Reset()
	if _, err := p.Filter(&out, strings.NewReader(in), levelAtMost(3)); err != nil {
		t.Fatal(err)
	}
	if out.String() != want {
		t.Fatalf("got  %q\nwant %q", out.String(), want)
	}
}

// TestMissingFieldIsAbsent documents that a field the plan reads but the
// record lacks is absent from the map, not present as a zero value, so that
// `rec["levle"].(float64) <= 3`-style predicates fail (remove the record)
// instead of comparing 0.
func TestMissingFieldIsAbsent(t *testing.T) {
	p := mustPlan(t, "", []string{"levle", "level", "missing"}, Limits{})
	var seen []map[string]any
	pred := func(rec map[string]any) (bool, error) {
		cp := make(map[string]any, len(rec))
		for k, v := range rec {
			cp[k] = v
		}
		seen = append(seen, cp)
		l, ok := rec["levle"].(float64) // typo'd field name in the policy
		if !ok {
			return false, errors.New("levle is not a number")
		}
		return l <= 3, nil
	}
	var out bytes.Buffer
	st, err := p.Filter(&out, strings.NewReader(`[{"level":1,"x":null},{"levle":2,"level":null}]`), pred)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != `[{"levle":2,"level":null}]` {
		t.Fatalf("output %q", out.String())
	}
	if st.Errors != 1 || st.Removed != 1 {
		t.Errorf("stats %+v", st)
	}
	if _, ok := seen[0]["levle"]; ok {
		t.Errorf("absent field levle present in map: %v", seen[0])
	}
	if _, ok := seen[0]["missing"]; ok {
		t.Errorf("absent field present in map: %v", seen[0])
	}
	if len(seen[0]) != 1 || seen[0]["level"] != 1.0 {
		t.Errorf("first record map = %v, want only level=1", seen[0])
	}
	// A JSON null is present, with a nil value.
	if v, ok := seen[1]["level"]; !ok || v != nil {
		t.Errorf("null field: %v %v", v, ok)
	}
	if _, ok := seen[1]["x"]; ok {
		t.Errorf("unread field decoded")
	}
}

// TestDecodedTypes documents the Go types the predicate sees.
func TestDecodedTypes(t *testing.T) {
	p := mustPlan(t, "", nil, Limits{})
	var got map[string]any
	in := `{"s":"a\u00e9\n","n":-1.5e2,"i":42,"t":true,"f":false,"z":null,"a":[1,"x",{"k":[]}],"o":{"p":{}},"e":""}`
	_, err := p.Filter(io.Discard, strings.NewReader(in), func(rec map[string]any) (bool, error) {
		got = deepCopy(rec).(map[string]any)
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"s": "aé\n", "n": -150.0, "i": 42.0, "t": true, "f": false, "z": nil,
		"a": []any{1.0, "x", map[string]any{"k": []any{}}},
		"o": map[string]any{"p": map[string]any{}}, "e": "",
	}
	if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
		t.Fatalf("got  %#v\nwant %#v", got, want)
	}
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, e := range v {
			a[i] = deepCopy(e)
		}
		return a
	}
	return v
}

func TestNewPlan(t *testing.T) {
	bad := []struct {
		path   string
		fields []string
		lim    Limits
	}{
		{path: "."}, {path: "a."}, {path: ".a"}, {path: "a..b"},
		{fields: []string{""}},
		{fields: []string{"\xff"}},
		{lim: Limits{MaxDepth: -1}},
		{lim: Limits{MaxRecordBytes: -1}},
		{lim: Limits{MaxDocumentBytes: -1}},
		{lim: Limits{MaxDepth: 10001}},
		{path: "a.b", lim: Limits{MaxDepth: 3}},
		{lim: Limits{MaxDepth: 1}},
	}
	for _, b := range bad {
		if _, err := NewPlan(b.path, b.fields, b.lim); err == nil {
			t.Errorf("NewPlan(%q, %q, %+v) succeeded", b.path, b.fields, b.lim)
		}
	}
	good := []struct {
		path   string
		fields []string
		lim    Limits
	}{
		{}, {path: "data"}, {path: "a.b.c", lim: Limits{MaxDepth: 5}},
		{fields: []string{}}, {fields: []string{"a", "a", "A"}}, {path: "with space"},
	}
	for _, g := range good {
		if _, err := NewPlan(g.path, g.fields, g.lim); err != nil {
			t.Errorf("NewPlan(%q, %q, %+v): %v", g.path, g.fields, g.lim, err)
		}
	}
}

// TestNoFields: a plan that reads no field calls the predicate with an empty
// map but still validates each record fully.
func TestNoFields(t *testing.T) {
	p := mustPlan(t, "", []string{}, Limits{})
	var out bytes.Buffer
	_, err := p.Filter(&out, strings.NewReader(`[{"a":1},{"b":2}]`), func(rec map[string]any) (bool, error) {
		return len(rec) == 0, nil
	})
	if err != nil || out.String() != `[{"a":1},{"b":2}]` {
		t.Fatalf("%q %v", out.String(), err)
	}
	if _, err := p.Filter(io.Discard, strings.NewReader(`[{"a":1,"A":2,"a":3}]`), keepAll); reasonOf(err) != ReasonDuplicateName {
		t.Fatalf("err %v", err)
	}
}

type errWriter struct{ n int }

func (w *errWriter) Write(p []byte) (int, error) {
	if w.n <= 0 {
		return 0, errors.New("client went away")
	}
	w.n--
	return len(p), nil
}

type errReader struct {
	r   io.Reader
	err error
}

func (r *errReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err == io.EOF {
		return n, r.err
	}
	return n, err
}

func TestIOErrors(t *testing.T) {
	p := mustPlan(t, "", []string{"level"}, Limits{})
	big := `[` + strings.Repeat(`{"level":1,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},`, 2000) + `{"level":1}]`
	for _, n := range []int{0, 1} {
		_, err := p.Filter(&errWriter{n: n}, strings.NewReader(big), keepAll)
		var e *Error
		if err == nil || errors.As(err, &e) || !strings.Contains(err.Error(), "client went away") {
			t.Errorf("write error %d: got %v", n, err)
		}
	}
	upstream := errors.New("connection reset")
	_, err := p.Filter(io.Discard, &errReader{strings.NewReader(`[{"level":1},{"le`), upstream}, keepAll)
	if !errors.Is(err, upstream) {
		t.Errorf("read error: got %v", err)
	}
}

// TestErrorFields checks the Error value itself.
func TestErrorFields(t *testing.T) {
	p := mustPlan(t, "", []string{"level"}, Limits{})
	_, err := p.Filter(io.Discard, strings.NewReader(`[{"level":1}, 7]`), keepAll)
	var e *Error
	if !errors.As(err, &e) || e.Reason != ReasonNotAnObject || e.Offset != 14 {
		t.Fatalf("got %#v", err)
	}
	if !strings.Contains(e.Error(), "not_an_object at offset 14") {
		t.Errorf("message %q", e.Error())
	}
	_, err = p.Filter(io.Discard, strings.NewReader(`[{"level":1,"level":2}]`), keepAll)
	if !errors.As(err, &e) || e.Reason != ReasonDuplicateName || e.Unwrap() == nil {
		t.Fatalf("got %#v", err)
	}
}

// TestConcurrentUse runs one plan from several goroutines (the package
// itself starts none); run with -race.
func TestConcurrentUse(t *testing.T) {
	p := mustPlan(t, "data", []string{"level"}, Limits{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				lvl := (g + i) % 5
				in := fmt.Sprintf(`{"data":[{"level":%d,"s":"%d"},{"level":9}],"n":2}`, lvl, i)
				want := fmt.Sprintf(`{"data":[{"level":%d,"s":"%d"}],"n":2}`, lvl, i)
				if lvl > 3 {
					want = `{"data":[],"n":2}`
				}
				var out bytes.Buffer
				if _, err := p.Filter(&out, strings.NewReader(in), levelAtMost(3)); err != nil || out.String() != want {
					t.Errorf("got %q %v want %q", out.String(), err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestSmallReads feeds the input one byte at a time, so that every token
// and record straddles reads.
func TestSmallReads(t *testing.T) {
	p := mustPlan(t, "result.items", []string{"level"}, Limits{MaxRecordBytes: 64})
	in := `{"a":"` + strings.Repeat("x", 50) + `","result":{"items":[ {"level":4}, {"level":1,"t":"` + strings.Repeat("y", 40) + `"} ,{"level":2}],"z":1}}`
	want := `{"a":"` + strings.Repeat("x", 50) + `","result":{"items":[ {"level":1,"t":"` + strings.Repeat("y", 40) + `"} ,{"level":2}],"z":1}}`
	var out bytes.Buffer
	if _, err := p.Filter(&out, iotestOneByte{strings.NewReader(in)}, levelAtMost(3)); err != nil || out.String() != want {
		t.Fatalf("got %q %v", out.String(), err)
	}
}

type iotestOneByte struct{ r io.Reader }

func (o iotestOneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

// TestDocExample checks the example in the package documentation.
func TestDocExample(t *testing.T) {
	p := mustPlan(t, "data", []string{"id"}, Limits{})
	in := "{\"data\": [ {\"id\":1} ,\n  {\"id\":2}, {\"id\":3} ], \"total\":3}"
	for _, tc := range []struct {
		drop float64
		want string
	}{
		{2, `{"data": [ {"id":1}, {"id":3} ], "total":3}`},
		{-1, `{"data": [  ], "total":3}`},
	} {
		var out bytes.Buffer
		_, err := p.Filter(&out, strings.NewReader(in), func(rec map[string]any) (bool, error) {
			return tc.drop > 0 && rec["id"] != tc.drop, nil
		})
		if err != nil || out.String() != tc.want {
			t.Errorf("got %q, %v; want %q", out.String(), err, tc.want)
		}
	}
}
