package filter

import (
	"slices"
	"strings"
	"testing"

	"github.com/expr-lang/expr"
)

func TestCompile_Errors(t *testing.T) {
	cases := map[string]string{
		"syntax":              "record.level <=",
		"unknown top level":   "recrod.level <= 3",
		"unknown user member": `user.nmae == "alice"`,
		"not a boolean":       `user.name + "x"`,
		"number":              "1 + lookup.x * 0 > 0 ? 1 : 2",
		"string result":       `"yes"`,
		"disabled builtin":    `repeat("x", 1000000) == record.name`,
		"too long":            strings.Repeat("true && ", 600) + "true",
		"internal function":   `·get(record, "level") == 1`,
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Compile(src)
			var fe *Error
			if err == nil {
				t.Fatal("compiled")
			}
			if !errorsAs(err, &fe) || fe.Line < 1 {
				t.Errorf("error %v has no position", err)
			}
		})
	}
}

func errorsAs(err error, target **Error) bool {
	e, ok := err.(*Error)
	if ok {
		*target = e
	}
	return ok
}

func TestEval(t *testing.T) {
	env := func(rec map[string]any) *Env {
		return &Env{
			Record: rec,
			User:   User{Name: "alice", Groups: []string{"hr"}, Provider: "local"},
			App:    "portal", Role: "hr_reader",
			Lookup:  map[string]any{"department": "sales", "max_level": int64(3)},
			Request: Request{Method: "GET", Path: "/employees", Query: map[string]string{"q": "x"}},
		}
	}
	var ev Evaluator
	cases := []struct {
		src  string
		rec  map[string]any
		want bool
	}{
		{"record.department == lookup.department && record.level <= lookup.max_level", map[string]any{"department": "sales", "level": 3.0}, true},
		{"record.department == lookup.department && record.level <= lookup.max_level", map[string]any{"department": "sales", "level": 4.0}, false},
		{"record.department == lookup.department && record.level <= lookup.max_level", map[string]any{"department": "ops", "level": 1.0}, false},
		// A field the record lacks never makes it visible.
		{"record.levle <= 3", map[string]any{"level": 1.0}, false},
		{"record.level <= 3", map[string]any{}, false},
		{"record.level <= 3", map[string]any{"level": "1"}, false},
		{"record.level <= 3", map[string]any{"level": nil}, false},
		{`record.owner == user.name`, map[string]any{"owner": "alice"}, true},
		{`"hr" in user.groups && app == "portal" && role == "hr_reader"`, map[string]any{}, true},
		{`request.method == "GET" && request.query.q == "x"`, map[string]any{}, true},
		{`lookup.nope == record.x`, map[string]any{}, true}, // nil == nil: document it
		// A result whose type is only known at run time must be a bool.
		{"record.level + 1", map[string]any{"level": 1.0}, false},
		{"record.active", map[string]any{"active": true}, true},
		{"record.active", map[string]any{"active": "yes"}, false},
	}
	for _, tc := range cases {
		p, err := Compile(tc.src)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		got, _ := ev.Eval(p, env(tc.rec))
		if got != tc.want {
			t.Errorf("%s on %v = %v, want %v", tc.src, tc.rec, got, tc.want)
		}
	}
}

func TestFields(t *testing.T) {
	cases := []struct {
		src     string
		fields  []string
		lookups []string
		dynamic bool
	}{
		{"record.a == 1 && record.b == record.a", []string{"a", "b"}, nil, false},
		{`record["c"] == lookup.x`, []string{"c"}, []string{"x"}, false},
		{"true", []string{}, nil, false},
		{`record[lookup.f] == 1`, nil, []string{"f"}, false},
		{`len(keys(record)) > 0`, nil, nil, false},
		{`$env.record.x == 1`, nil, nil, true},
		{`lookup[record.k] == 1`, []string{"k"}, nil, true},
		{`record.a.b == 1`, []string{"a"}, nil, false},
		{`record?.a == 1`, []string{"a"}, nil, false},
	}
	for _, tc := range cases {
		p, err := Compile(tc.src)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		l, dyn := p.Lookups()
		if !slices.Equal(p.Fields(), tc.fields) || (p.Fields() == nil) != (tc.fields == nil) || !slices.Equal(l, tc.lookups) || dyn != tc.dynamic {
			t.Errorf("%s: fields %q lookups %q dynamic %v; want %q %q %v", tc.src, p.Fields(), l, dyn, tc.fields, tc.lookups, tc.dynamic)
		}
	}
}

func TestPure(t *testing.T) {
	cases := []struct {
		src  string
		pure bool
	}{
		{`record.department == lookup.department`, true},
		{`record.level <= 3 && user.name in ["a", "b"]`, true},
		{`date(record.created) < date("2025-01-01")`, true},
		{`len(filter(record.tags ?? [], # != "x")) > 0`, true},
		{`upper(record.name) == request.query.name`, true},
		{`record.expires > now().Unix()`, false},
		{`date(record.created) < now()`, false},
		{`record.a == 1 || now().Year() > 2000`, false},
		{`(now() | date()) != nil`, false},
		{`$env.record.x == 1`, false},
		{`len(keys(record)) > 0`, false}, // the whole record
		{`record[lookup.f] == 1`, false}, // computed member names
	}
	for _, tc := range cases {
		p, err := Compile(tc.src)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		if p.Pure() != tc.pure {
			t.Errorf("%s: Pure() = %v, want %v", tc.src, p.Pure(), tc.pure)
		}
	}
}

func TestEval_MemoryBudget(t *testing.T) {
	p, err := Compile("len(map(1..1000000, # * 2)) > 0")
	if err != nil {
		t.Skipf("rejected at compile time: %v", err)
	}
	var ev Evaluator
	if ok, err := ev.Eval(p, &Env{}); ok || err == nil {
		t.Errorf("a million-element range passed (%v, %v)", ok, err)
	}
}

func BenchmarkEval(b *testing.B) {
	p, err := Compile("record.department == lookup.department && record.level <= lookup.max_level")
	if err != nil {
		b.Fatal(err)
	}
	env := &Env{Record: map[string]any{"department": "sales", "level": 2.0}, Lookup: map[string]any{"department": "sales", "max_level": int64(3)}}
	var ev Evaluator
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := ev.Eval(p, env); !ok {
			b.Fatal("false")
		}
	}
}

// BenchmarkEvalRecord is the per-record cost inside a request: Bind once,
// then one EvalRecord per record.
func BenchmarkEvalRecord(b *testing.B) {
	p, err := Compile("record.department == lookup.department && record.level <= lookup.max_level")
	if err != nil {
		b.Fatal(err)
	}
	rec := map[string]any{"department": "sales", "level": 2.0}
	var ev Evaluator
	ev.Bind(&Env{Lookup: map[string]any{"department": "sales", "max_level": int64(3)}})
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := ev.EvalRecord(p, rec); !ok {
			b.Fatal("false")
		}
	}
}

// TestFastMembers_SameResults: the rewritten member access (fastMembers,
// a map env) decides every record as expr's own member access on the Env
// struct does.
func TestFastMembers_SameResults(t *testing.T) {
	srcs := []string{
		"record.department == lookup.department && record.level <= lookup.max_level",
		"record.levle <= 3",
		"record.a.b == 1",
		`record["a"] == lookup["x"]`,
		"record?.level > 1",
		"record.tags != nil && 'x' in record.tags",
		"all(record.tags ?? [], # != 'y')",
		"record.level in [1, 2, 3]",
		"record.owner == user.name || record.owner in user.groups",
		"lookup.nope == record.nope",
		"record.active",
		"record.level + lookup.max_level > 4",
		"len(record.name ?? '') > 3",
		"(record.level ?? 0) < 2",
		"request.query.q == record.q",
		`$env.record.level == 1`,
	}
	recs := []map[string]any{
		{},
		{"department": "sales", "level": 3.0, "owner": "alice", "tags": []any{"x", "y"}, "active": true, "name": "Ada Lovelace", "q": "x"},
		{"department": "ops", "level": 1.0, "owner": "bob", "tags": []any{"z"}, "active": "yes", "a": map[string]any{"b": 1.0}},
		{"department": nil, "level": "1", "owner": nil, "tags": nil, "a": map[string]any{"b": "1"}, "nope": nil},
		{"level": 2.0, "a": 1.0, "name": 12.0, "q": nil},
	}
	user := User{Name: "alice", Groups: []string{"bob"}, Provider: "local"}
	lookup := map[string]any{"department": "sales", "max_level": int64(3), "x": nil}
	req := Request{Method: "GET", Path: "/", Query: map[string]string{"q": "x"}}
	var ev Evaluator
	ev.Bind(&Env{User: user, App: "portal", Role: "r", Lookup: lookup, Request: req})
	for _, src := range srcs {
		p, err := Compile(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		ref, err := expr.Compile(src, expr.Env(Env{}), expr.AsBool())
		if err != nil {
			t.Fatalf("%s (reference): %v", src, err)
		}
		for _, rec := range recs {
			got, gerr := ev.EvalRecord(p, rec)
			out, rerr := expr.Run(ref, &Env{Record: rec, User: user, App: "portal", Role: "r", Lookup: lookup, Request: req})
			want, _ := out.(bool)
			if got != want || (gerr != nil) != (rerr != nil) {
				t.Errorf("%s on %v: got %v (err %v), expr's own access gives %v (err %v)", src, rec, got, gerr, want, rerr)
			}
		}
	}
}
