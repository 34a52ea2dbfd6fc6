package records

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
)

// counting wraps pred and counts its calls.
func counting(pred Predicate, calls *int) Predicate {
	return func(rec map[string]any) (bool, error) {
		*calls++
		return pred(rec)
	}
}

// filterBoth runs Filter and FilterPure on in and fails unless they agree;
// it returns FilterPure's output and how often each called pred.
func filterBoth(t *testing.T, p *Plan, in string, pred Predicate) (out string, st Stats, calls, pureCalls int) {
	t.Helper()
	var a, b bytes.Buffer
	sta, erra := p.Filter(&a, strings.NewReader(in), counting(pred, &calls))
	stb, errb := p.FilterPure(&b, strings.NewReader(in), counting(pred, &pureCalls))
	if erra != nil || errb != nil {
		t.Fatalf("Filter: %v; FilterPure: %v", erra, errb)
	}
	if a.String() != b.String() || sta != stb {
		at := 0
		for at < min(a.Len(), b.Len()) && a.Bytes()[at] == b.Bytes()[at] {
			at++
		}
		t.Fatalf("outputs differ from byte %d on:\nFilter     %.80q %+v\nFilterPure %.80q %+v",
			at, a.Bytes()[at:], sta, b.Bytes()[at:], stb)
	}
	return b.String(), stb, calls, pureCalls
}

func TestFilterPure_ReusesDecisions(t *testing.T) {
	p := mustPlan(t, "data", []string{"department"}, Limits{})
	_, st, calls, pureCalls := filterBoth(t, p, string(benchDoc(1000)), salesOnly)
	if st.Records != 1000 || st.Removed != 800 {
		t.Fatalf("stats %+v", st)
	}
	if calls != 1000 || pureCalls != len(departments) {
		t.Errorf("predicate calls: Filter %d, FilterPure %d; want 1000 and %d", calls, pureCalls, len(departments))
	}
}

// Same value, other bytes: "2" and "2.0", a string with and without an
// escape, whitespace, absent and null. Each distinct byte sequence is
// decided once; equal decoded values never share a decision by accident
// of the key layout.
func TestFilterPure_KeyIsBytesAndPresence(t *testing.T) {
	p := mustPlan(t, "", []string{"a", "b"}, Limits{})
	recs := []string{
		`{"a":2}`, `{"a":2.0}`, `{"a":2}`, `{"b":2}`, `{"a":null}`, `{}`, `{"a":null}`,
		`{"a":"x"}`, `{"a":"\u0078"}`, `{"a":"x"}`, `{"b":1,"a":2}`, `{"a":2,"b":1}`,
		`{"a":1,"b":2}`, `{"a":12}`,
		`{"a":[1,{"k":2}]}`, `{"a":[1,{"k":2}]}`, `{"a":[1, {"k":2}]}`,
	}
	in := "[" + strings.Join(recs, ",") + "]"
	aIs2 := func(rec map[string]any) (bool, error) {
		_, hasB := rec["b"]
		return rec["a"] == 2.0 && !hasB, nil
	}
	out, st, calls, pureCalls := filterBoth(t, p, in, aIs2)
	if want := `[{"a":2},{"a":2.0},{"a":2}]`; out != want {
		t.Errorf("output %s, want %s", out, want)
	}
	// Repeats: {"a":2}, {"a":null}, {"a":"x"}, {"a":[1,{"k":2}]}, and
	// {"a":2,"b":1} (members are keyed in plan order, not record order).
	if st.Records != len(recs) || calls != len(recs) || pureCalls != len(recs)-5 {
		t.Errorf("records %d, calls %d (Filter) %d (FilterPure), want %d, %d, %d", st.Records, calls, pureCalls, len(recs), len(recs), len(recs)-5)
	}
}

// A decision is never carried into the next call, even on the same pooled
// run: the next call's predicate may be another user's.
func TestFilterPure_NotAcrossCalls(t *testing.T) {
	p := mustPlan(t, "", []string{"owner"}, Limits{})
	in := `[{"owner":"ann"},{"owner":"bob"},{"owner":"ann"}]`
	for i, who := range []string{"ann", "bob", "ann", "carl", "bob"} {
		var out bytes.Buffer
		owner := func(rec map[string]any) (bool, error) { return rec["owner"] == who, nil }
		if _, err := p.FilterPure(&out, strings.NewReader(in), owner); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"ann":  `[{"owner":"ann"},{"owner":"ann"}]`,
			"bob":  `[{"owner":"bob"}]`,
			"carl": `[]`,
		}[who]
		if out.String() != want {
			t.Errorf("call %d (%s): %s, want %s", i, who, out.String(), want)
		}
	}
	m := newMemo()
	m.begin()
	s, _ := m.find([]byte("k"))
	m.store(s, []byte("k"), outVisible)
	if _, out := m.find([]byte("k")); out != outVisible {
		t.Fatalf("stored decision not found: %v", out)
	}
	m.begin()
	if _, out := m.find([]byte("k")); out != 0 {
		t.Errorf("decision of the previous call reused: %v", out)
	}
	m.gen = ^uint32(0)
	m.begin()
	if _, out := m.find([]byte("k")); out != 0 || m.gen != 1 {
		t.Errorf("after the generation wrapped: %v, gen %d", out, m.gen)
	}
}

// More distinct keys than slots, all of the same length: slots are shared
// and overwritten, and a decision is reused only for its own key.
func TestFilterPure_Collisions(t *testing.T) {
	p := mustPlan(t, "", []string{"id"}, Limits{})
	var b strings.Builder
	b.WriteString("[")
	for i := range 4 * 300 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":%d}`, 1000+(i/2)%300) // each twice in a row
	}
	b.WriteString("]")
	even := func(rec map[string]any) (bool, error) { return int(rec["id"].(float64))%2 == 0, nil }
	_, st, _, pureCalls := filterBoth(t, p, b.String(), even)
	if st.Removed != 600 || pureCalls >= 1200 || pureCalls < 300 {
		t.Errorf("stats %+v, %d predicate calls", st, pureCalls)
	}
}

// Values that never repeat: after memoProbe lookups the call stops
// looking, and every record is still decided correctly.
func TestFilterPure_StopsWhenValuesDoNotRepeat(t *testing.T) {
	p := mustPlan(t, "", []string{"id"}, Limits{})
	var b strings.Builder
	b.WriteString("[")
	const n = 2000
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":%d,"x":"%d"}`, i, i%3)
	}
	b.WriteString("]")
	even := func(rec map[string]any) (bool, error) { return int(rec["id"].(float64))%2 == 0, nil }
	_, st, calls, pureCalls := filterBoth(t, p, b.String(), even)
	if st.Removed != n/2 || calls != n || pureCalls != n {
		t.Errorf("stats %+v, calls %d %d", st, calls, pureCalls)
	}
	r := p.getRun(strings.NewReader(b.String()), io.Discard, even, true)
	defer p.putRun(r)
	if err := r.filter(); err != nil {
		t.Fatal(err)
	}
	if r.x.spansOnly || r.memo.lookups != memoProbe {
		t.Errorf("memo still on after %d lookups, %d hits", r.memo.lookups, r.memo.hits)
	}
}

// Read members longer than memoMaxKey are decided without the memo, and
// undecodable values (numbers of 2^53 and more) are errors either way.
func TestFilterPure_LongKeysAndBadValues(t *testing.T) {
	p := mustPlan(t, "", []string{"k"}, Limits{})
	long := strconv.Quote(strings.Repeat("y", memoMaxKey))
	in := "[" + strings.Join([]string{
		`{"k":` + long + `}`, `{"k":` + long + `}`, `{"k":9007199254740993}`, `{"k":9007199254740993}`,
		`{"k":2}`, `{"k":2}`,
	}, ",") + "]"
	isString := func(rec map[string]any) (bool, error) {
		_, ok := rec["k"].(string)
		return ok, nil
	}
	out, st, calls, pureCalls := filterBoth(t, p, in, isString)
	if want := `[{"k":` + long + `},{"k":` + long + `}]`; out != want {
		t.Errorf("output %s", out)
	}
	// The two long keys and the first 2: predicate calls; the big numbers
	// never reach it.
	if st.Errors != 2 || calls != 4 || pureCalls != 3 {
		t.Errorf("stats %+v, calls %d (Filter) %d (FilterPure)", st, calls, pureCalls)
	}
}

// Problems inside read members refuse the document from the memo path too,
// whether or not an earlier record had the same key shape.
func TestFilterPure_ProblemsInReadMembers(t *testing.T) {
	p := mustPlan(t, "", []string{"k"}, Limits{MaxDepth: 4})
	for _, in := range []string{
		`[{"k":{"a":1}},{"k":{"a":1,"A":2}}]`,       // case variants inside a read member
		`[{"k":[[1]]},{"k":[[[1]]]}]`,               // too deep inside a read member
		`[{"k":1},{"k":1,"K":1}]`,                   // case variant of the read member
		`[{"k":{"a":1,"A":2}},{"k":{"a":1,"A":2}}]`, // the first one already refuses
	} {
		_, err := p.Filter(io.Discard, strings.NewReader(in), keepAll)
		_, perr := p.FilterPure(io.Discard, strings.NewReader(in), keepAll)
		if err == nil || perr == nil {
			t.Errorf("%s: Filter %v, FilterPure %v; want both to refuse", in, err, perr)
		}
	}
}

// BenchmarkFilterPure is BenchmarkFilter through FilterPure. "department"
// takes 5 values, decided once each per call; every "id" differs, so the
// call stops looking after memoProbe records: the worst case.
func BenchmarkFilterPure(b *testing.B) {
	const n = 1000
	in := benchDoc(n)
	for _, field := range []string{"department", "id"} {
		b.Run(field, func(b *testing.B) {
			p := mustPlan(b, "data", []string{field}, Limits{})
			benchFilter(b, in, n, func(src io.Reader) error {
				_, err := p.FilterPure(io.Discard, src, salesOnly)
				return err
			})
		})
	}
}
