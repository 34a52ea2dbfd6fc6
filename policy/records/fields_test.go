package records

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

func mustProtection(t testing.TB, rules ...FieldRule) *Protection {
	t.Helper()
	p, err := NewProtection(rules)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func hide(paths ...string) []FieldRule {
	var rs []FieldRule
	for _, p := range paths {
		rs = append(rs, FieldRule{Path: p})
	}
	return rs
}

func allVisible(map[string]any) (bool, error) { return true, nil }

func protectedFilter(t testing.TB, path string, prot *Protection, in string) (string, Stats, error) {
	t.Helper()
	p, err := NewProtectedPlan(path, []string{}, prot, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	st, err := p.Filter(&out, strings.NewReader(in), allVisible)
	// The jsontext path (the fast path hands records over to it) must
	// protect them the same way.
	slow, err2 := NewProtectedPlan(path, []string{}, prot, Limits{})
	if err2 != nil {
		t.Fatal(err2)
	}
	slow.jsontextOnly = true
	var sout bytes.Buffer
	sst, serr := slow.Filter(&sout, strings.NewReader(in), allVisible)
	if err != nil || serr != nil {
		st.BytesIn, sst.BytesIn = 0, 0 // may include read-ahead after an error
	}
	if sout.String() != out.String() || sst != st || !sameRecordsError(err, serr) {
		t.Errorf("%q: fast path %q %+v %v, jsontext path %q %+v %v", in, out.String(), st, err, sout.String(), sst, serr)
	}
	return out.String(), st, err
}

// sameRecordsError reports whether a and b are both nil, or both *Error
// with the same reason and offset.
func sameRecordsError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	var ea, eb *Error
	return errors.As(a, &ea) && errors.As(b, &eb) && ea.Reason == eb.Reason && ea.Offset == eb.Offset
}

func TestProtectionFilter(t *testing.T) {
	mask := func(path, m string) FieldRule { return FieldRule{Path: path, Mask: []byte(m)} }
	tests := []struct {
		name  string
		path  string
		rules []FieldRule
		in    string
		want  string // "" with reason set
		why   string // expected Error.Reason
	}{
		{"hide middle", "", hide("salary"), `[{"id":1, "salary":5, "n":"a"}]`, `[{"id":1, "n":"a"}]`, ""},
		{"hide first keeps ws after brace", "", hide("salary"), `[{ "salary":5 , "id":1 }]`, `[{ "id":1 }]`, ""},
		{"hide last", "", hide("salary"), `[{"id":1,"salary":{"a":[1,2]}}]`, `[{"id":1}]`, ""},
		{"hide only member", "", hide("salary"), `[{ "salary":5 }, {"id":2}]`, `[{  }, {"id":2}]`, ""},
		{"hide all members", "", hide("a", "b"), `[{ "a":1 , "b":2 }]`, `[{  }]`, ""},
		{"hide two not adjacent", "", hide("a", "c"), `[{"a":1,"b":2,"c":3,"d":4}]`, `[{"b":2,"d":4}]`, ""},
		{"case variant hidden", "", hide("salary"), `[{"id":1,"SALARY":5}]`, `[{"id":1}]`, ""},
		{"escaped name hidden", "", hide("salary"), `[{"\u0073alary":5,"id":1}]`, `[{"id":1}]`, ""},
		{"kelvin sign hidden", "", hide("kind"), "[{\"\u212aind\":5,\"id\":1}]", `[{"id":1}]`, ""},
		{"dotless i hidden", "", hide("iban"), "[{\"\u0131ban\":5,\"id\":1}]", `[{"id":1}]`, ""},
		{"two spellings refused", "", hide("salary"), `[{"salary":1,"Salary":2}]`, "", ReasonDuplicateName},
		{"escaped twin refused", "", hide("salary"), `[{"salary":1,"\u0053alary":2}]`, "", ReasonDuplicateName},
		{"nul name on path refused", "", hide("bank.iban"), `[{"bank":{"iban\u0000x":1}}]`, "", ReasonDuplicateName},
		{"nested", "", hide("bank.iban"), `[{"bank":{"iban":"DE1","bic":"X"},"iban":"keep"}]`, `[{"bank":{"bic":"X"},"iban":"keep"}]`, ""},
		{"nested case variant of parent", "", hide("bank.iban"), `[{"Bank":{"IBAN":"DE1","bic":"X"}}]`, `[{"Bank":{"bic":"X"}}]`, ""},
		{"nested twin parents refused", "", hide("bank.iban"), `[{"bank":{},"BANK":{"iban":1}}]`, "", ReasonDuplicateName},
		{"nested array descends", "", hide("bank.iban"), `[{"bank":[{"iban":1,"x":2},[{"iban":3}],5,null]}]`, `[{"bank":[{"x":2},[{}],5,null]}]`, ""},
		{"nested scalar left", "", hide("bank.iban"), `[{"bank":"iban"}]`, `[{"bank":"iban"}]`, ""},
		{"other levels untouched", "", hide("salary"), `[{"x":{"salary":1}}]`, `[{"x":{"salary":1}}]`, ""},
		{"mask string", "", []FieldRule{mask("ssn", `"***"`)}, `[{"ssn": "123-45" ,"id":1}]`, `[{"ssn": "***" ,"id":1}]`, ""},
		{"mask object value", "", []FieldRule{mask("ssn", `null`)}, `[{"ssn":{"a":1}}]`, `[{"ssn":null}]`, ""},
		{"mask after hidden", "", []FieldRule{{Path: "a"}, mask("b", `0`)}, `[{"a":1, "b":2}]`, `[{"b":0}]`, ""},
		{"mask and nested hide", "", []FieldRule{mask("ssn", `"x"`), {Path: "bank.iban"}}, `[{"ssn":1,"bank":{"iban":2,"k":3}}]`, `[{"ssn":"x","bank":{"k":3}}]`, ""},
		{"single object", "", hide("salary"), ` {"id":1,"salary":2} `, ` {"id":1} `, ""},
		{"records path", "data", hide("salary"), `{"data":[{"salary":1},{"salary":2,"id":2}],"salary":9}`, `{"data":[{},{"id":2}],"salary":9}`, ""},
		{"package doc example", "", []FieldRule{{Path: "salary"}, mask("ssn", `"***"`)}, `[{ "salary":5 , "id":1, "ssn": "123" }]`, `[{ "id":1, "ssn": "***" }]`, ""},
		{"no match unchanged", "", hide("salary"), `[ {"id":1} , {"id":2} ]`, `[ {"id":1} , {"id":2} ]`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := protectedFilter(t, tt.path, mustProtection(t, tt.rules...), tt.in)
			if tt.why != "" {
				var e *Error
				if !errors.As(err, &e) || e.Reason != tt.why {
					t.Fatalf("err = %v, want reason %s", err, tt.why)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestProtectionWithFilter(t *testing.T) {
	prot := mustProtection(t, FieldRule{Path: "salary"})
	p, err := NewProtectedPlan("data", []string{"department"}, prot, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	in := `{"data":[{"department":"ops","salary":1},{"department":"sales","salary":2,"id":2},{"department":"sales","Salary":3,"salary":4}],"n":3}`
	var out bytes.Buffer
	// The third record is hidden by the filter: its twins do not matter.
	sales := 0
	st, err := p.Filter(&out, strings.NewReader(in), func(rec map[string]any) (bool, error) {
		if rec["department"] != "sales" {
			return false, nil
		}
		sales++
		return sales == 1, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"data":[{"department":"sales","id":2}],"n":3}`; out.String() != want {
		t.Errorf("got %s, want %s", out.String(), want)
	}
	if st.Records != 3 || st.Removed != 2 || st.Protected != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestProtectionCheckWrite(t *testing.T) {
	prot := mustProtection(t, FieldRule{Path: "salary"}, FieldRule{Path: "bank.iban"}, FieldRule{Path: "ssn", Mask: []byte(`"***"`)})
	p, err := NewProtectedPlan("data", []string{}, prot, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	slow, err := NewProtectedPlan("data", []string{}, prot, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	slow.jsontextOnly = true
	for _, tt := range []struct {
		body string
		ok   bool
	}{
		{`{"id":1}`, true},
		{`[{"id":1},{"name":"x"}]`, true},
		{`{"bank":{"bic":"x"}}`, true},
		{`{"bank":"iban"}`, true},
		{`{"salary":1}`, false},
		{`{"SALARY":1}`, false},
		{`{"\u0073alary":1}`, false},
		{`[{"id":1},{"id":2,"ssn":null}]`, false},
		{`{"bank":{"IBAN":"x"}}`, false},
		{`{"bank":[{"iban":"x"}]}`, false},
		{`{"x":{"salary":1}}`, true}, // not a protected path
		{`{"salary":1,"Salary":2}`, false},
		{`{"bank":{"iban\u0000":1}}`, false},
	} {
		ok, st, err := p.CheckWrite(strings.NewReader(tt.body), allVisible)
		if sok, sst, serr := slow.CheckWrite(strings.NewReader(tt.body), allVisible); sok != ok || sst.Protected != st.Protected || !sameRecordsError(err, serr) {
			t.Errorf("%s: fast path %v %+v %v, jsontext path %v %+v %v", tt.body, ok, st, err, sok, sst, serr)
		}
		if ok != tt.ok || (tt.ok && err != nil) {
			t.Errorf("%s: ok = %v (%v, %+v), want %v", tt.body, ok, err, st, tt.ok)
		}
		if !tt.ok && err == nil && st.Protected == 0 {
			t.Errorf("%s: refused without Protected: %+v", tt.body, st)
		}
	}
}

func TestNewProtectionErrors(t *testing.T) {
	for _, tt := range []struct {
		rules        []FieldRule
		index, other int
	}{
		{hide(""), 0, -1},
		{hide("a..b"), 0, -1},
		{hide(".a"), 0, -1},
		{hide("a."), 0, -1},
		{hide(" a"), 0, -1},
		{hide("a\x00"), 0, -1},
		{hide("a", "b", "a"), 2, 0},
		{hide("salary", "SALARY"), 1, 0},
		{hide("bank", "x", "bank.iban"), 2, 0},
		{hide("bank.iban", "Bank"), 1, 0},
		{[]FieldRule{{Path: "a"}, {Path: "a", Mask: []byte(`1`)}}, 1, 0},
		{[]FieldRule{{Path: "a", Mask: []byte(`{}`)}}, 0, -1},
		{[]FieldRule{{Path: "a", Mask: []byte(`"x`)}}, 0, -1},
		{[]FieldRule{{Path: "a", Mask: []byte(` 1`)}}, 0, -1},
		{[]FieldRule{{Path: "a", Mask: []byte(`1 `)}}, 0, -1},
		{[]FieldRule{{Path: "a", Mask: []byte(`1 2`)}}, 0, -1},
		{[]FieldRule{{Path: "a", Mask: []byte{}}}, 0, -1},
	} {
		_, err := NewProtection(tt.rules)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Index != tt.index || fe.Other != tt.other {
			t.Errorf("%+v: err = %v, want index %d other %d", tt.rules, err, tt.index, tt.other)
		}
	}
	for _, m := range []string{`"***"`, `0`, `-1.5e3`, `null`, `true`, `false`, `""`} {
		if _, err := NewProtection([]FieldRule{{Path: "a", Mask: []byte(m)}}); err != nil {
			t.Errorf("mask %s: %v", m, err)
		}
	}
}

// decoderMayMatch reports whether some JSON decoder may take member name
// a for b, by the comparisons the decoders use (see appendCaseKey), each
// computed here on its own.
func decoderMayMatch(a, b string) bool {
	if a == b || strings.EqualFold(a, b) {
		return true
	}
	each := func(s string, f func(rune) rune) string {
		var sb strings.Builder
		for _, r := range s {
			sb.WriteRune(f(r))
		}
		return sb.String()
	}
	java := func(r rune) rune { return unicode.ToLower(unicode.ToUpper(r)) }
	return each(a, unicode.ToUpper) == each(b, unicode.ToUpper) ||
		each(a, unicode.ToLower) == each(b, unicode.ToLower) ||
		each(a, java) == each(b, java)
}

// oracleRule is a rule as the oracle reads it.
type oracleRule struct {
	segs    []string
	mask    any // decoded mask; hide when !masked
	mask_   bool
	maskRaw []byte
}

var errOracleCollision = errors.New("collision")

// oracleApply applies rules to a decoded value at a protected level (an
// object or array whose members the rules' next segments name), as the
// package documents it, independently of its code.
func oracleApply(v any, rules []oracleRule) (any, error) {
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			var err error
			if v[i], err = oracleApply(e, rules); err != nil {
				return nil, err
			}
		}
		return v, nil
	case map[string]any:
		for k := range v {
			if strings.ContainsRune(k, 0) {
				return nil, errOracleCollision
			}
		}
		for _, r := range rules {
			var hits []string
			for k := range v {
				if decoderMayMatch(k, r.segs[0]) {
					hits = append(hits, k)
				}
			}
			switch {
			case len(hits) > 1:
				return nil, errOracleCollision
			case len(hits) == 0:
				continue
			}
			k := hits[0]
			switch {
			case len(r.segs) > 1:
			case r.mask_:
				v[k] = r.mask
				continue
			default:
				delete(v, k)
				continue
			}
			// Gather the rules under this segment.
			var sub []oracleRule
			for _, s := range rules {
				if len(s.segs) > 1 && decoderMayMatch(k, s.segs[0]) {
					sub = append(sub, oracleRule{segs: s.segs[1:], mask: s.mask, mask_: s.mask_})
				}
			}
			switch v[k].(type) {
			case map[string]any, []any:
				nv, err := oracleApply(v[k], sub)
				if err != nil {
					return nil, err
				}
				v[k] = nv
			}
		}
		return v, nil
	}
	return v, nil
}

// oracle applies rules to every record of the decoded document doc.
func oracle(doc any, path string, rules []oracleRule) (any, error) {
	if path == "" {
		if a, ok := doc.([]any); ok {
			for i, r := range a {
				var err error
				if a[i], err = oracleApply(r, rules); err != nil {
					return nil, err
				}
			}
			return a, nil
		}
		return oracleApply(doc, rules)
	}
	m := doc.(map[string]any)
	a := m[path].([]any)
	for i, r := range a {
		var err error
		if a[i], err = oracleApply(r, rules); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func decodeJSON(t testing.TB, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

// compactJSON returns b without insignificant whitespace, strings and
// numbers as written.
func compactJSON(t testing.TB, b []byte) []byte {
	t.Helper()
	v := jsontext.Value(bytes.Clone(b))
	if err := v.Compact(); err != nil {
		t.Fatalf("compacting %s: %v", b, err)
	}
	return v
}

// oracleCompact applies rules to compact JSON raw, as oracleApply does to
// decoded values, but on the bytes: kept members and elements are copied
// as written, joined by single commas. It is the byte-exact oracle (but
// for whitespace) of the property test.
func oracleCompact(t testing.TB, raw []byte, rules []oracleRule) ([]byte, error) {
	t.Helper()
	if len(raw) == 0 || (raw[0] != '{' && raw[0] != '[') || len(rules) == 0 {
		return raw, nil
	}
	dec := jsontext.NewDecoder(bytes.NewReader(raw))
	open, err := dec.ReadToken()
	if err != nil {
		t.Fatal(err)
	}
	var parts [][]byte
	if open.Kind() == '[' {
		for dec.PeekKind() != ']' {
			v, err := dec.ReadValue()
			if err != nil {
				t.Fatal(err)
			}
			e, err := oracleCompact(t, bytes.Clone(v), rules)
			if err != nil {
				return nil, err
			}
			parts = append(parts, e)
		}
		return append(append([]byte("["), bytes.Join(parts, []byte(","))...), ']'), nil
	}
	type member struct {
		rawName, val []byte
		name         string
	}
	var ms []member
	for dec.PeekKind() != '}' {
		n, err := dec.ReadValue()
		if err != nil {
			t.Fatal(err)
		}
		m := member{rawName: bytes.Clone(n)}
		if err := json.Unmarshal(m.rawName, &m.name); err != nil {
			t.Fatal(err)
		}
		v, err := dec.ReadValue()
		if err != nil {
			t.Fatal(err)
		}
		m.val = bytes.Clone(v)
		if strings.ContainsRune(m.name, 0) {
			return nil, errOracleCollision
		}
		ms = append(ms, m)
	}
	for _, r := range rules {
		hits := 0
		for _, m := range ms {
			if decoderMayMatch(m.name, r.segs[0]) {
				hits++
			}
		}
		if hits > 1 {
			return nil, errOracleCollision
		}
	}
	for _, m := range ms {
		val, drop := m.val, false
		var sub []oracleRule
		for _, r := range rules {
			if !decoderMayMatch(m.name, r.segs[0]) {
				continue
			}
			switch {
			case len(r.segs) > 1:
				sub = append(sub, oracleRule{segs: r.segs[1:], mask: r.mask, mask_: r.mask_, maskRaw: r.maskRaw})
			case r.mask_:
				val = r.maskRaw
			default:
				drop = true
			}
		}
		if drop {
			continue
		}
		if sub != nil {
			var err error
			if val, err = oracleCompact(t, val, sub); err != nil {
				return nil, err
			}
		}
		parts = append(parts, append(append(m.rawName, ':'), val...))
	}
	return append(append([]byte("{"), bytes.Join(parts, []byte(","))...), '}'), nil
}

// isSubsequence reports whether out is in with bytes deleted.
func isSubsequence(out, in []byte) bool {
	i := 0
	for _, c := range out {
		for i < len(in) && in[i] != c {
			i++
		}
		if i == len(in) {
			return false
		}
		i++
	}
	return true
}

// The segments the property test and fuzz target protect and spell.
var propSegments = []string{"salary", "ssn", "bank", "iban", "kind", "items", "id", "name", "note"}

var propPaths = []string{"salary", "ssn", "bank.iban", "bank", "kind", "items.kind", "items.ssn", "bank.note.id", "note"}

// spell returns the JSON text of a member name that decoders may take
// for seg: as is, in another case, with the Kelvin sign for k, the long s
// for s, the dotless i for i, and escapes.
func spell(rng *rand.Rand, seg string) string {
	var sb strings.Builder
	variant := rng.IntN(3) == 0
	for _, r := range seg {
		if variant {
			switch c := rng.IntN(6); {
			case c == 0:
				r = unicode.ToUpper(r)
			case c == 1 && r == 'k':
				r = '\u212a'
			case c == 1 && r == 's':
				r = '\u017f'
			case c == 1 && r == 'i':
				r = '\u0131'
			}
		}
		if rng.IntN(8) == 0 {
			fmt.Fprintf(&sb, `\u%04x`, r)
		} else {
			sb.WriteRune(r)
		}
	}
	return `"` + sb.String() + `"`
}

func propWS(rng *rand.Rand) string {
	return []string{"", "", "", " ", "\n  ", "\t"}[rng.IntN(6)]
}

func propValue(rng *rand.Rand, depth int) string {
	switch c := rng.IntN(10); {
	case depth >= 4 || c < 5:
		return []string{`1`, `-2.5e3`, `"x"`, `"sal\"ary"`, `null`, `true`, `"日本"`, `[]`, `{}`}[rng.IntN(9)]
	case c < 7:
		n := rng.IntN(3)
		var parts []string
		for range n {
			parts = append(parts, propValue(rng, depth+1))
		}
		return "[" + propWS(rng) + strings.Join(parts, propWS(rng)+","+propWS(rng)) + propWS(rng) + "]"
	default:
		return propObject(rng, depth+1, false)
	}
}

// propObject builds an object of distinct members from propSegments, each
// in some spelling; with twins, sometimes two spellings of one segment.
func propObject(rng *rand.Rand, depth int, twins bool) string {
	perm := rng.Perm(len(propSegments))
	n := rng.IntN(6)
	var members, names []string
	for _, j := range perm[:n] {
		names = append(names, spell(rng, propSegments[j]))
		members = append(members, names[len(names)-1]+propWS(rng)+":"+propWS(rng)+propValue(rng, depth))
	}
	if twins && n > 0 && rng.IntN(10) == 0 {
		k := rng.IntN(n)
		seg, first := propSegments[perm[k]], names[k]
		// Another spelling: decoded, the two names must differ.
		for range 20 {
			twin := spell(rng, seg)
			var a, b string
			if json.Unmarshal([]byte(first), &a) == nil && json.Unmarshal([]byte(twin), &b) == nil && a != b {
				members = append(members, twin+":"+propValue(rng, depth))
				break
			}
		}
	}
	return "{" + propWS(rng) + strings.Join(members, propWS(rng)+","+propWS(rng)) + propWS(rng) + "}"
}

func propRules(rng *rand.Rand) ([]FieldRule, []oracleRule, bool) {
	var rules []FieldRule
	hideOnly := rng.IntN(2) == 0
	for _, j := range rng.Perm(len(propPaths))[:1+rng.IntN(4)] {
		r := FieldRule{Path: propPaths[j]}
		if !hideOnly && rng.IntN(2) == 0 {
			r.Mask = []byte([]string{`"***"`, `0`, `null`}[rng.IntN(3)])
		}
		if _, err := NewProtection(append(rules, r)); err == nil {
			rules = append(rules, r)
		}
	}
	var ors []oracleRule
	for _, r := range rules {
		o := oracleRule{segs: strings.Split(r.Path, "."), maskRaw: r.Mask}
		if r.Mask != nil {
			o.mask_ = true
			if err := json.Unmarshal(r.Mask, &o.mask); err != nil {
				panic(err)
			}
			if f, ok := o.mask.(float64); ok {
				o.mask = json.Number(fmt.Sprint(f))
			}
		}
		ors = append(ors, o)
	}
	return rules, ors, hideOnly
}

// checkProtected checks one protected Filter call against the oracle:
// the error exactly when the oracle finds two spellings of a protected
// member (or a name with NUL) on a protected path; else the decoded output
// is the decoded input with the rules applied, no hidden member survives
// in any spelling, and with hide rules only the output is the input with
// byte ranges deleted.
func checkProtected(t *testing.T, in []byte, path string, rules []FieldRule, ors []oracleRule, hideOnly bool, wantValid bool) {
	t.Helper()
	prot, err := NewProtection(rules)
	if err != nil {
		t.Fatal(err)
	}
	out, _, ferr := protectedFilter(t, path, prot, string(in))
	if !wantValid && ferr != nil {
		return
	}
	want, oerr := oracle(decodeJSON(t, in), path, ors)
	if oerr != nil {
		var e *Error
		if !errors.As(ferr, &e) || e.Reason != ReasonDuplicateName {
			t.Fatalf("input %s\nrules %+v\noracle finds a collision, Filter returned %v with output %s", in, rules, ferr, out)
		}
		return
	}
	if ferr != nil {
		t.Fatalf("input %s\nrules %+v\nFilter: %v", in, rules, ferr)
	}
	got := decodeJSON(t, []byte(out))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("input %s\nrules %+v\noutput %s\ngot  %#v\nwant %#v", in, rules, out, got, want)
	}
	// Byte for byte, but for whitespace: the kept members and elements
	// as written, in order.
	cin := compactJSON(t, in)
	var wantBytes []byte
	if path == "" {
		wantBytes, oerr = oracleCompact(t, cin, ors)
	} else {
		// Only the records, the elements of the path's array, change.
		var doc map[string]jsontext.Value
		if err := json.Unmarshal(cin, &doc); err != nil {
			t.Fatal(err)
		}
		var recs []byte
		recs, oerr = oracleCompact(t, doc[path], ors)
		old := `"` + path + `":` + string(doc[path])
		wantBytes = bytes.Replace(cin, []byte(old), []byte(`"`+path+`":`+string(recs)), 1)
	}
	if oerr != nil {
		t.Fatalf("byte oracle: %v", oerr)
	}
	if got := compactJSON(t, []byte(out)); !bytes.Equal(got, wantBytes) {
		t.Fatalf("input %s\nrules %+v\noutput %s\ncompact got  %s\ncompact want %s", in, rules, out, got, wantBytes)
	}
	if hideOnly && !isSubsequence([]byte(out), in) {
		t.Fatalf("input %s\nrules %+v\noutput %s is not the input with bytes deleted", in, rules, out)
	}
	// No hidden member survives: decode the output's names, at every
	// protected level, and compare them with every hidden segment.
	var survivors func(v any, rules []oracleRule)
	survivors = func(v any, rules []oracleRule) {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				survivors(e, rules)
			}
		case map[string]any:
			for k, val := range v {
				for _, r := range rules {
					if !decoderMayMatch(k, r.segs[0]) {
						continue
					}
					switch {
					case len(r.segs) == 1 && !r.mask_:
						t.Fatalf("input %s\nrules %+v\noutput %s keeps hidden member %q", in, rules, out, k)
					case len(r.segs) == 1:
						if !reflect.DeepEqual(val, r.mask) {
							t.Fatalf("output %s: %q = %v, not masked", out, k, val)
						}
					default:
						survivors(val, []oracleRule{{segs: r.segs[1:], mask: r.mask, mask_: r.mask_}})
					}
				}
			}
		}
	}
	doc := decodeJSON(t, []byte(out))
	if path != "" {
		doc = doc.(map[string]any)[path]
	}
	if a, ok := doc.([]any); ok {
		for _, r := range a {
			survivors(r, ors)
		}
	} else {
		survivors(doc, ors)
	}
}

// TestProtectionProperty: for random records and random hide and mask
// lists, no hidden member survives in any spelling a decoder maps to it,
// masked members hold the mask, every other member is kept, and with hide
// lists the output is the input with byte ranges deleted; two spellings
// of a protected member refuse the document.
func TestProtectionProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 1))
	n := 4000
	if testing.Short() {
		n = 500
	}
	for range n {
		rules, ors, hideOnly := propRules(rng)
		var recs []string
		for range rng.IntN(4) {
			recs = append(recs, propObject(rng, 1, true))
		}
		var in, path string
		switch rng.IntN(3) {
		case 0:
			in = "[" + propWS(rng) + strings.Join(recs, propWS(rng)+","+propWS(rng)) + propWS(rng) + "]"
		case 1:
			in = propWS(rng) + propObject(rng, 1, true) + propWS(rng)
		default:
			path = "data"
			in = `{"total":3,"data":[` + strings.Join(recs, ",") + `],"salary":1}`
		}
		checkProtected(t, []byte(in), path, rules, ors, hideOnly, true)
	}
}

// FuzzHideFields filters fuzzed documents with field rules chosen by the
// input and checks them as the property test does.
func FuzzHideFields(f *testing.F) {
	f.Add([]byte(`[{"salary":1,"id":2},{"bank":{"iban":"x","Iban":"y"}}]`), uint64(1))
	f.Add([]byte(`{"SSN":"1","kind":[{"x":1}]}`), uint64(7))
	f.Add([]byte("[{\"\u212aind\":1,\"items\":[{\"kind\":2},[{\"k\\u0069nd\":3}]]}]"), uint64(99))
	// Seeds from the property test's generator: records with protected
	// names in many spellings, for the fuzzer to mutate.
	rng := rand.New(rand.NewPCG(5, 23))
	for i := range 16 {
		f.Add([]byte("["+propObject(rng, 1, true)+","+propObject(rng, 1, true)+"]"), uint64(i))
	}
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		if len(in) > 4096 {
			return
		}
		rng := rand.New(rand.NewPCG(seed, 5))
		rules, ors, hideOnly := propRules(rng)
		// The oracle decodes with encoding/json, which accepts what
		// the filter refuses (duplicates, invalid UTF-8): only inputs
		// the filter accepts without rules are compared.
		if _, _, err := protectedFilter(t, "", mustProtection(t), string(in)); err != nil {
			return
		}
		if !utf8.Valid(in) {
			return
		}
		checkProtected(t, in, "", rules, ors, hideOnly, false)
	})
}

func TestProtectionMemoryBounded(t *testing.T) {
	// A record of many masked members grows on output; it is written in
	// pieces, so the whole output is never held.
	prot := mustProtection(t, FieldRule{Path: "items.a", Mask: []byte(`"` + strings.Repeat("m", 200) + `"`)})
	var b strings.Builder
	b.WriteString(`[{"items":[`)
	for i := range 20000 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"a":1}`)
	}
	b.WriteString(`]}]`)
	p, err := NewProtectedPlan("", []string{}, prot, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	w := &maxWrite{}
	st, err := p.Filter(w, strings.NewReader(b.String()), allVisible)
	if err != nil {
		t.Fatal(err)
	}
	if w.max > 2*flushThreshold+MaxFieldMaskLen || st.BytesOut < 20000*200 {
		t.Errorf("largest write %d, out %d", w.max, st.BytesOut)
	}
}

// A call that fails after it edited records leaves nothing for the next
// call on the same plan (runs are pooled).
func TestProtectionFailedCallLeavesNothing(t *testing.T) {
	p, err := NewProtectedPlan("", []string{}, mustProtection(t, FieldRule{Path: "salary"}), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		var out strings.Builder
		if _, err := p.Filter(&out, strings.NewReader(`[{"id":"first","salary":1},{"id":2,`), allVisible); err == nil {
			t.Fatal("a truncated document was accepted")
		}
		out.Reset()
		if _, err := p.Filter(&out, strings.NewReader(`[{"id":3}]`), allVisible); err != nil || out.String() != `[{"id":3}]` {
			t.Fatalf("next call: %q, %v", out.String(), err)
		}
	}
}

type maxWrite struct{ max int }

func (w *maxWrite) Write(p []byte) (int, error) {
	w.max = max(w.max, len(p))
	return len(p), nil
}

var _ io.Writer = (*maxWrite)(nil)
