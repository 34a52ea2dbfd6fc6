package records

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

// byteSource turns fuzz input into deterministic choices (zeros once the
// input is exhausted).
type byteSource struct {
	b []byte
	i int
}

func (s *byteSource) next() int {
	if s.i >= len(s.b) {
		return 0
	}
	c := s.b[s.i]
	s.i++
	return int(c)
}

func (s *byteSource) pick(n int) int { return s.next() % n }

func (s *byteSource) ws() string {
	return []string{"", "", "", " ", "\n", "\t", "\r\n  ", "  "}[s.pick(8)]
}

// Member names: distinct after unescaping, none folding to "k".
var fuzzNames = []string{`"a"`, `"b"`, `"name"`, `"id"`, `"nested"`, `"ü"`, `"k2"`, `"x\"y"`, `"t\tab"`, `"\u00e9"`, `"kk"`}

var fuzzScalars = []string{
	`0`, `-1`, `3.25`, `1e3`, `-0`, `12345678901234567890`, `true`, `false`, `null`,
	`""`, `"x"`, `"sales"`, `"q\"uote\\"`, `"\u00e9\n"`, `"日本語"`, `"\ud83d\ude00"`, `"[{"`, `"}]"`,
}

func (s *byteSource) value(depth int) string {
	switch c := s.pick(10); {
	case c < 6 || depth >= 3:
		return fuzzScalars[s.pick(len(fuzzScalars))]
	case c < 8:
		n := s.pick(4)
		var b strings.Builder
		b.WriteString("[" + s.ws())
		for i := range n {
			if i > 0 {
				b.WriteString(s.ws() + "," + s.ws())
			}
			b.WriteString(s.value(depth + 1))
		}
		b.WriteString(s.ws() + "]")
		return b.String()
	default:
		return s.object(depth+1, false)
	}
}

// kValues are the values the field "k" may take.
var kValues = []string{`0`, `1`, `2`, `-4`, `7`, `2.0`, `4e0`, `1.5`, `"2"`, `null`, `true`, `[2]`, `{"k":2}`, `9007199254740994`, `-8`}

func (s *byteSource) object(depth int, record bool) string {
	names := append([]string(nil), fuzzNames...)
	n := s.pick(6)
	var members []string
	for range n {
		j := s.pick(len(names))
		members = append(members, names[j]+s.ws()+":"+s.ws()+s.value(depth))
		names = append(names[:j], names[j+1:]...)
	}
	if record && s.pick(5) != 0 {
		k := `"k"` + s.ws() + ":" + s.ws() + kValues[s.pick(len(kValues))]
		at := s.pick(len(members) + 1)
		members = append(members[:at], append([]string{k}, members[at:]...)...)
	}
	var b strings.Builder
	b.WriteString("{" + s.ws())
	for i, m := range members {
		if i > 0 {
			b.WriteString(s.ws() + "," + s.ws())
		}
		b.WriteString(m)
	}
	b.WriteString(s.ws() + "}")
	return b.String()
}

func evenK(rec map[string]any) (bool, error) {
	k, ok := rec["k"].(float64)
	if !ok {
		return false, fmt.Errorf("k is %T", rec["k"])
	}
	return math.Mod(k, 2) == 0, nil
}

// wantKept mirrors evenK on a record decoded by encoding/json, including
// the rule that a record with a number of magnitude >= 2^53 in a decoded
// field (only k, or any field when all fields are decoded) is not visible.
func wantKept(rec any, all bool) bool {
	k, ok := rec.(map[string]any)["k"].(float64)
	if all && hasHugeNumber(rec) {
		return false
	}
	return ok && math.Abs(k) < 1<<53 && math.Mod(k, 2) == 0
}

func hasHugeNumber(v any) bool {
	switch v := v.(type) {
	case float64:
		return math.Abs(v) >= 1<<53
	case []any:
		for _, e := range v {
			if hasHugeNumber(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range v {
			if hasHugeNumber(e) {
				return true
			}
		}
	}
	return false
}

// FuzzFilter generates, from the fuzz input, an array of random objects
// (random members, whitespace, escapes, nesting; a member "k" that is often a
// number), either at the top level or at "data" inside an object, filters it
// keeping records whose k is an even number, and checks that the output
// decodes to the input minus exactly the removed records, in order, and that
// the raw bytes of each kept record appear, in order, in the output.
func FuzzFilter(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x05\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a"))
	f.Add([]byte("\x0b\x03\x07\x01\x00\x05\x09\x02\x11\x04\x08\x06\x00\x03\x0c\x0d\x0e\x01\x02\x03\x04\x05\x06\x07\x08\x09"))
	f.Add(bytes.Repeat([]byte{7, 3, 9, 1, 4, 200, 13}, 40))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &byteSource{b: data}
		wrapped := s.pick(2) == 1
		n := s.pick(12)
		var raws []string
		var b strings.Builder
		b.WriteString(s.ws() + "[" + s.ws())
		for i := range n {
			if i > 0 {
				b.WriteString(s.ws() + "," + s.ws())
			}
			r := s.object(1, true)
			raws = append(raws, r)
			b.WriteString(r)
		}
		b.WriteString(s.ws() + "]" + s.ws())
		in := b.String()
		path := ""
		if wrapped {
			in = `{"meta":{"data":[1]},` + s.ws() + `"data":` + in + `,"total":` + fmt.Sprint(n) + `}`
			path = "data"
		}
		fields := []string{"k"}
		if s.pick(4) == 0 {
			fields = nil
		}
		p := mustPlan(t, path, fields, Limits{})
		var out bytes.Buffer
		st, err := p.Filter(&out, strings.NewReader(in), evenK)
		if err != nil {
			t.Fatalf("Filter(%q): %v", in, err)
		}

		var din, dout any
		if err := json.Unmarshal([]byte(in), &din); err != nil {
			t.Fatalf("generator produced invalid JSON %q: %v", in, err)
		}
		if err := json.Unmarshal(out.Bytes(), &dout); err != nil {
			t.Fatalf("output is not JSON: %q: %v", out.String(), err)
		}
		recs := din
		if wrapped {
			recs = din.(map[string]any)["data"]
		}
		kept := []any{}
		var keptRaw []string
		for i, r := range recs.([]any) {
			if wantKept(r, fields == nil) {
				kept = append(kept, r)
				keptRaw = append(keptRaw, raws[i])
			}
		}
		want := any(kept)
		if wrapped {
			din.(map[string]any)["data"] = kept
			want = din
		}
		if !reflect.DeepEqual(dout, want) {
			t.Fatalf("input %q\noutput %q\ndecoded %#v\nwant %#v", in, out.String(), dout, want)
		}
		rest := out.String()
		for _, r := range keptRaw {
			i := strings.Index(rest, r)
			if i < 0 {
				t.Fatalf("kept record %q not found verbatim in the rest of the output %q", r, rest)
			}
			rest = rest[i+len(r):]
		}
		if st.Records != n || st.Removed != n-len(kept) || st.BytesIn != int64(len(in)) || st.BytesOut != int64(out.Len()) {
			t.Fatalf("stats %+v for %d records, %d kept", st, n, len(kept))
		}
		if len(kept) == n && out.String() != in {
			t.Fatalf("nothing removed but output differs:\n%q\n%q", in, out.String())
		}
		samePure(t, p, in, evenK, out.String(), st, nil)
	})
}

// samePure checks that FilterPure of in gives what Filter gave: the same
// output and Stats, or an error likewise (the reason may differ, see
// FilterPure).
func samePure(t *testing.T, p *Plan, in string, pred Predicate, out string, st Stats, err error) {
	t.Helper()
	var pout bytes.Buffer
	pst, perr := p.FilterPure(&pout, strings.NewReader(in), pred)
	switch {
	case (err == nil) != (perr == nil), err == ErrRefused && perr != ErrRefused:
		t.Fatalf("input %q: Filter error %v, FilterPure error %v", in, err, perr)
	case err == nil && (pout.String() != out || pst != st):
		t.Fatalf("input %q:\nFilter     %q %+v\nFilterPure %q %+v", in, out, st, pout.String(), pst)
	}
}

// FuzzFilterBytes feeds arbitrary bytes. Filter must not panic; whatever it
// accepts must be valid JSON; keeping every record must reproduce the input
// exactly; and removing every record must give the input minus its records.
func FuzzFilterBytes(f *testing.F) {
	for _, s := range []string{
		`[]`, `[{"k":1},{"k":2}]`, `{"data":[{"a":[1,{"b":"}"}]}],"n":1}`, `{"k":2}`, ` [ {"k" : 2 } , {"K":1} ] `,
		`[{"k":1,"k":2}]`, `[{"a":"\u00e9\"","b":[[[[]]]]}]`, `{"data":{"data":[]}}`, "[{\"\xff\":1}]",
		`[1e999,{"k":1e999}]`, `{"meta":[1,2,{"x":null}],"data":[{},{"k":-0}],"z":"\\"}`,
	} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, mode uint8) {
		path := ""
		if mode&1 != 0 {
			path = "data"
		}
		var fields []string
		if mode&2 != 0 {
			fields = []string{"k"}
		}
		p := mustPlan(t, path, fields, Limits{MaxDepth: 16, MaxRecordBytes: 256})

		var all bytes.Buffer
		stAll, errAll := p.Filter(&all, bytes.NewReader(in), keepAll)
		if errAll == nil {
			if !json.Valid(in) {
				t.Fatalf("accepted invalid JSON %q", in)
			}
			if !json.Valid(all.Bytes()) {
				t.Fatalf("output is not JSON: %q", all.Bytes())
			}
			// Records with huge numbers are removed even by keepAll.
			if stAll.Errors == 0 && !bytes.Equal(all.Bytes(), in) {
				t.Fatalf("keep-all changed the input:\n%q\n%q", in, all.Bytes())
			}
		}

		samePure(t, p, string(in), keepAll, all.String(), stAll, errAll)
		var even bytes.Buffer
		stEven, errEven := p.Filter(&even, bytes.NewReader(in), evenK)
		samePure(t, p, string(in), evenK, even.String(), stEven, errEven)

		var none bytes.Buffer
		st, errNone := p.Filter(&none, bytes.NewReader(in), keepNone)
		if (errAll == nil || errAll == ErrRefused) != (errNone == nil || errNone == ErrRefused) {
			t.Fatalf("acceptance depends on the predicate: %v vs %v", errAll, errNone)
		}
		if errNone != nil {
			if errNone == ErrRefused && none.Len() != 0 {
				t.Fatalf("refused single object but wrote %q", none.Bytes())
			}
			return
		}
		din, err := decodeNumbers(in)
		if err != nil {
			t.Fatal(err)
		}
		dout, err := decodeNumbers(none.Bytes())
		if err != nil {
			t.Fatalf("output not JSON: %q from %q", none.Bytes(), in)
		}
		want := any([]any{})
		if path != "" {
			din.(map[string]any)["data"] = []any{}
			want = din
		}
		if !reflect.DeepEqual(dout, want) {
			t.Fatalf("remove-all: got %#v want %#v (input %q)", dout, want, in)
		}
		if st.Removed != st.Records {
			t.Fatalf("stats %+v", st)
		}
	})
}

// decodeNumbers decodes with json.Number, so that numbers out of float64's
// range (which jsontext accepts) can be compared.
func decodeNumbers(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}
