package records

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/go-json-experiment/json/jsontext"
)

// scanSeeds are records and documents that exercise what scanRecord must
// refuse or accept exactly as jsontext does.
var scanSeeds = []string{
	`{}`, ` { } `, `{"a":1}`, `{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `{"a":{"b":1,"b":2}}`,
	`{"a":[{"b":1},{"b":1}]}`, `{"k":1,"K":2}`, `{"k":1,"\u212a":2}`, `{"a\u0000b":1}`, `{"x":{"a\u0000":1}}`,
	`{"a":"\ud83d\ude00"}`, `{"a":"\ud83d"}`, `{"a":"\ude00"}`, `{"a":"\ud83d\u0041"}`, `{"a":"\ud83dx"}`,
	`{"a":"\uD83D\uDE00"}`, `{"a":"\u00e9\n\t\b\f\r\/\\\""}`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"\u12g4"}`,
	"{\"a\":\"\xff\"}", "{\"a\":\"\xc3\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xc0\xaf\"}", "{\"\xe2\x82\":1}",
	"{\"a\":\"tab\there\"}", "{\"a\":\"\x7f\"}", "{\"a\":\"nl\nx\"}",
	`{"a":0}`, `{"a":-0}`, `{"a":01}`, `{"a":-}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":1e+}`, `{"a":1E-7}`,
	`{"a":-1.5e300}`, `{"a":1e999}`, `{"a":+1}`, `{"a":0x1}`, `{"a":12345678901234567890}`, `{"a":9007199254740993}`,
	`{"a":true}`, `{"a":tru}`, `{"a":truex}`, `{"a":nul}`, `{"a":null,}`, `{"a":[1,]}`, `{"a":[,1]}`, `{,"a":1}`,
	`{"a" 1}`, `{"a"::1}`, `{"a":1 "b":2}`, `{"a":[1 2]}`, `{"a":{}}`, `{"a":[]}`, `{"a":[[[[[[[[[[1]]]]]]]]]]}`,
	`{"a":{"b":{"c":{"d":{"e":{"f":{}}}}}}}`, `{"a":1}x`, `{"a":1`, `{"a":"x`, `{"a`, `{`, `{"a":"}"}`,
	`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"a":19}`,
	`{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa":1,"b":2}`,
	"{\"a\":1,\r\n\t\"b\" : [ 1 , 2 ] }", "{\"a\":1,\v\"b\":2}", "{\"a\":1,\u00a0\"b\":2}",
}

// manyNames returns an object with n distinct members, plus a repeat of
// the first when dup.
func manyNames(n int, dup bool) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"n%d":%d`, i, i)
	}
	if dup {
		b.WriteString(`,"n0":0`)
	}
	b.WriteString("}")
	return b.String()
}

// FuzzScanRecord checks scanRecord against jsontext: a record it accepts
// is valid I-JSON (no duplicate names, valid UTF-8) by jsontext, its
// length is that of the value, and for a plan that reads no field, with
// depth to spare, it accepts every object jsontext accepts unless a
// top-level name holds NUL.
func FuzzScanRecord(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(manyNames(40, false)))
	f.Add([]byte(manyNames(40, true)))
	f.Add([]byte(manyNames(20, true)))
	p := mustPlan(f, "", []string{}, Limits{})
	f.Fuzz(func(t *testing.T, v []byte) {
		if len(v) == 0 || v[0] != '{' {
			return
		}
		var x extractor
		x.init(p)
		n, st := x.scanRecord(v, 1000)
		dec := jsontext.NewDecoder(bytes.NewReader(v))
		val, err := dec.ReadValue()
		switch {
		case st == stOK && err != nil:
			t.Fatalf("scanRecord accepted %q (length %d), jsontext: %v", v, n, err)
		case st == stOK && n != len(val):
			t.Fatalf("scanRecord length %d, jsontext %d for %q", n, len(val), v)
		case st == stShort && err == nil:
			t.Fatalf("scanRecord wants more of %q, jsontext read %q", v, val)
		case st == stSlow && err == nil && !nulName(val):
			t.Fatalf("scanRecord refused %q, jsontext accepts it", val)
		}
		if err == nil {
			// Cut short anywhere, the record is never accepted.
			for cut := range len(val) {
				if _, st := x.scanRecord(val[:cut], 1000); st == stOK {
					t.Fatalf("accepted %q cut to %q", val, val[:cut])
				}
			}
		}
	})
}

// nulName reports whether a top-level member name of object v holds NUL.
func nulName(v []byte) bool {
	dec := jsontext.NewDecoder(bytes.NewReader(v))
	if _, err := dec.ReadToken(); err != nil {
		return false
	}
	for dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			return false
		}
		if strings.IndexByte(tok.String(), 0) >= 0 {
			return true
		}
		if err := dec.SkipValue(); err != nil {
			return false
		}
	}
	return false
}

// FuzzFastPathSameAsJSONText runs Filter, FilterPure and CheckWrite with
// the fast path and with jsontext alone on the same input: output, Stats
// and error (reason, offset and text) must be identical.
func FuzzFastPathSameAsJSONText(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte("["+s+"]"), uint8(0))
		f.Add([]byte(`{"data":[{"k":2},`+s+`,{"k":1}],"n":1}`), uint8(3))
		f.Add([]byte(`[{"k":2}, `+s+` ,{"k":3}]`), uint8(2))
	}
	for _, s := range []string{
		`[]`, `[ ]`, `[{"k":1},{"k":2}]`, `{"data":[{"a":[1,{"b":"}"}]}],"n":1}`, `{"k":2}`, ` [ {"k" : 2 } , {"K":1} ] `,
		`[{"k":1,"k":2}]`, `{"data":{"data":[]}}`, `{"a":1,"data":[{"k":2}],"data":[]}`, `{"a":1,"data":[{"k":2}],"a":2}`,
		`{"data":[{"k":2}],"Data":[]}`, `{"data":[{"k":2}],"total":1,}`, `{"data":[{"k":2},]}`, `[{"k":2} {"k":2}]`,
		`[{"k":2},1]`, `[{"k":2},[]]`, `[{"k":2}`, `[{"k":2},`, `[{"k":2}]x`, `{"x\"y":1,"data":[{"k":4}],"x\u0022y":2}`,
		`[{"k":9007199254740994},{"k":2}]`, `[{"k":{"a":1,"A":2}},{"k":2}]`, `[{"k":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}]`,
		`{"meta":{"data":[1]},"data":[{"k":2},{"k":"2"},{"k":null},{}],"total":4}`,
	} {
		for mode := range uint8(8) {
			f.Add([]byte(s), mode)
		}
	}
	f.Add([]byte("["+strings.Repeat(`{"k":2,"pad":"`+strings.Repeat("x", 100)+`"},`, 50)+`{"k":1}]`), uint8(2))
	f.Add([]byte("["+manyNames(40, false)+","+manyNames(40, true)+"]"), uint8(0))
	f.Fuzz(func(t *testing.T, in []byte, mode uint8) {
		path := ""
		if mode&1 != 0 {
			path = "data"
		}
		var fields []string
		if mode&2 != 0 {
			fields = []string{"k"}
		}
		lim := Limits{MaxDepth: 16, MaxRecordBytes: 256}
		if mode&4 != 0 {
			lim = Limits{MaxDepth: 6, MaxRecordBytes: 40, MaxDocumentBytes: 300}
		}
		fast := mustPlan(t, path, fields, lim)
		slow := mustPlan(t, path, fields, lim)
		slow.jsontextOnly = true
		oneByte := mode&8 != 0
		src := func() *bytes.Reader { return bytes.NewReader(in) }
		for _, pred := range []Predicate{keepAll, evenK, keepNone} {
			var fo, so bytes.Buffer
			var fr, sr = iotestReader(src(), oneByte), iotestReader(src(), oneByte)
			fst, ferr := fast.Filter(&fo, fr, pred)
			sst, serr := slow.Filter(&so, sr, pred)
			sameRun(t, "Filter", in, fo.String(), so.String(), fst, sst, ferr, serr)
			fo.Reset()
			so.Reset()
			fst, ferr = fast.FilterPure(&fo, src(), pred)
			sst, serr = slow.FilterPure(&so, src(), pred)
			sameRun(t, "FilterPure", in, fo.String(), so.String(), fst, sst, ferr, serr)
			fok, fst, ferr := fast.CheckWrite(src(), pred)
			sok, sst, serr := slow.CheckWrite(src(), pred)
			if fok != sok {
				t.Fatalf("CheckWrite(%q): fast %v, jsontext %v", in, fok, sok)
			}
			sameRun(t, "CheckWrite", in, "", "", fst, sst, ferr, serr)
		}
	})
}

func iotestReader(r *bytes.Reader, oneByte bool) interface{ Read([]byte) (int, error) } {
	if oneByte {
		return iotest.OneByteReader(r)
	}
	return r
}

func sameRun(t *testing.T, what string, in []byte, fo, so string, fst, sst Stats, ferr, serr error) {
	t.Helper()
	if ferr != nil {
		// How far a failed call read depends on how much the decoder
		// asks for at a time (its buffer grows with use) and on how far
		// the fast path read ahead.
		fst.BytesIn = sst.BytesIn
	}
	var fe, se *Error
	fIs, sIs := errors.As(ferr, &fe), errors.As(serr, &se)
	sameErr := fIs == sIs && (fIs && fe.Reason == se.Reason && fe.Offset == se.Offset ||
		!fIs && errString(ferr) == errString(serr))
	if fo != so || fst != sst || !sameErr {
		t.Fatalf("%s(%q):\nfast     %q %+v %v\njsontext %q %+v %v", what, in, fo, fst, ferr, so, sst, serr)
	}
}

// errString is the text of an error. (Of an *Error only the reason and
// offset are compared: jsontext quotes in its messages what it has
// buffered, which depends on how the input was split into reads.)
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestFastPathLongDocument runs the two paths over a document of many
// records, some of them spanning reads, with a bad record at the end: the
// fast path hands over to jsontext at the bad record and both report it
// at the same offset.
func TestFastPathLongDocument(t *testing.T) {
	good := benchDoc(3000)
	bad := bytes.Replace(good, []byte(`"id":2999,`), []byte(`"id":2999,"ID":1,"id":3,`), 1)
	trunc := good[:len(good)-40]
	for _, in := range [][]byte{good, bad, trunc} {
		for _, fields := range [][]string{{"department"}, nil, {"id"}} {
			fast := mustPlan(t, "data", fields, Limits{})
			slow := mustPlan(t, "data", fields, Limits{})
			slow.jsontextOnly = true
			var fo, so bytes.Buffer
			fst, ferr := fast.Filter(&fo, iotest.HalfReader(bytes.NewReader(in)), salesOnly)
			sst, serr := slow.Filter(&so, bytes.NewReader(in), salesOnly)
			sameRun(t, "Filter", in[:40], fo.String(), so.String(), fst, sst, ferr, serr)
			if bytes.Equal(in, good) && (ferr != nil || fst.Records != 3000) {
				t.Fatalf("good document: %v %+v", ferr, fst)
			}
			if !bytes.Equal(in, good) && ferr == nil {
				t.Fatalf("bad document accepted with fields %v", fields)
			}
			if bytes.Equal(in, bad) && !strings.Contains(ferr.Error(), `/data/2999`) {
				// jsontext names the record, though the fast path had
				// handed it over.
				t.Errorf("error does not name the record: %v", ferr)
			}
		}
	}
}

// TestFoldMaskAgreesWithMatch checks that the fields foldMask reports for
// a name are those whose count match increments.
func TestFoldMaskAgreesWithMatch(t *testing.T) {
	names := []string{"k", "K", "\u212a", "level", "LEVEL", "levels", "id", "\u0131d", "\u0130D", "ID", "x", "", "ß", "SS", "ſ", "s"}
	for _, fields := range [][]string{{"k"}, {"k", "K"}, {"level", "id"}, {"\u212a", "s", "ID"}, {"ß", "x"}} {
		p := mustPlan(t, "", fields, Limits{})
		var x extractor
		x.init(p)
		for _, n := range names {
			clear(x.counts)
			if isASCII(n) && !p.mayMatch(len(n)) {
				if m := x.foldMask([]byte(n)); m != 0 {
					t.Errorf("fields %q, name %q: mask %b where match is not called", fields, n, m)
				}
				continue
			}
			x.match([]byte(n), isASCII(n))
			var want uint64
			for k, c := range x.counts {
				if c > 0 {
					want |= 1 << k
				}
			}
			if got := x.foldMask([]byte(n)); got != want {
				t.Errorf("fields %q, name %q: foldMask %b, match counted %b", fields, n, got, want)
			}
		}
	}
}

// TestShapeDoesNotHideProblems: records after one with the same names
// (whose checks scanRecord skips) are still refused for a duplicate, a
// case variant of a read field, or an escaped spelling of a name.
func TestShapeDoesNotHideProblems(t *testing.T) {
	first := `{"id":1,"k":2,"name":"a"},{"id":2,"k":4,"name":"b"},`
	for _, tc := range []struct{ rec, reason string }{
		{`{"id":3,"k":2,"name":"c","id":4}`, ReasonDuplicateName},
		{`{"id":3,"k":2,"name":"c","K":4}`, ReasonDuplicateName},
		{`{"id":3,"k":2,"nam\u0065":"c"}`, ""},
		{`{"id":3,"k":2,"name":"c","na\u006de":1}`, ReasonDuplicateName},
		{`{"id":3,"k":2}`, ""},
		{`{"id":3,"k":2,"name":"c","x":1}`, ""},
		{`{"id":3,"\u212a":2,"name":"c","k":1}`, ReasonDuplicateName},
		{`{"id":3,"k":2,"name":"c\u0000"}`, ""},
		{`{"id":3,"k":2,"name` + "\xff" + `":"c"}`, ReasonInvalidJSON},
	} {
		sameAsJSONText(t, `{"data":[`+first+tc.rec+`]}`, tc.rec, tc.reason)
	}
}

// TestTrailingDataOffset: data after the top-level value is reported at
// its first byte, however the input was read.
func TestTrailingDataOffset(t *testing.T) {
	for _, tc := range []struct {
		path, in string
		off      int64
	}{
		{"", "[]0  ", 2},
		{"", `[{"k":1}]  [1]`, 11},
		{"", `{"k":2} "x"`, 8},
		{"data", `{"data":[{"k":2}]} {}`, 19},
	} {
		for _, oneByte := range []bool{false, true} {
			p := mustPlan(t, tc.path, []string{"k"}, Limits{})
			_, err := p.Filter(io.Discard, iotestReader(bytes.NewReader([]byte(tc.in)), oneByte), keepAll)
			var e *Error
			if !errors.As(err, &e) || e.Reason != ReasonInvalidJSON || e.Offset != tc.off {
				t.Errorf("%q (one byte at a time: %v): %v, want invalid_json at %d", tc.in, oneByte, err, tc.off)
			}
		}
	}
}

// TestLargeRecordsMemory: records near MaxRecordBytes, kept and removed,
// on the fast path and after a hand-over to jsontext (a bad last record),
// allocate about twice the record limit at most, not per record.
func TestLargeRecordsMemory(t *testing.T) {
	big := func(k int) string {
		return `{"k":` + fmt.Sprint(k) + `,"pad":"` + strings.Repeat("x", 900<<10) + `"}`
	}
	good := "[" + big(2) + "," + big(1) + "," + big(4) + "," + big(3) + "]"
	bad := "[" + big(2) + "," + big(1) + "," + big(4) + "," + big(3) + `,{"k":2,"k":2}]`
	for _, in := range []string{good, bad} {
		p := mustPlan(t, "", []string{"k"}, Limits{})
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		st, err := p.Filter(io.Discard, strings.NewReader(in), evenK)
		runtime.ReadMemStats(&m1)
		if (err == nil) != (in == good) || st.Records < 4 {
			t.Fatalf("%v %+v", err, st)
		}
		t.Logf("bad last record %v: %d bytes allocated", in == bad, m1.TotalAlloc-m0.TotalAlloc)
		if a := m1.TotalAlloc - m0.TotalAlloc; a > 3*DefaultMaxRecordBytes {
			t.Errorf("allocated %d bytes for %d records of 900 KiB (bad last record: %v)", a, st.Records, in == bad)
		}
	}
}

// TestShapeChanges: records whose names change from one to the next
// (more than shapeMaxMiss times in a call, so that the shape is given up)
// give what the jsontext path gives, with a problem in the last record or
// none.
func TestShapeChanges(t *testing.T) {
	shapes := []string{`{"id":%d,"k":%d,"name":"a"}`, `{"k":%d,"id":%d}`, `{"id":%d,"k":%d,"name":"a","extra":[1,{"x":2}]}`, `{"id":%d,"K2":%d}`}
	for _, last := range []string{`{"id":1,"k":2,"name":"a"}`, `{"id":1,"k":2,"K":3}`, `{"id":1,"k":2,"id":3}`, `{"id":1,"k":2,"name":"a"`} {
		var b strings.Builder
		b.WriteString(`{"data":[`)
		for i := range 300 {
			fmt.Fprintf(&b, shapes[(i/3+i)%len(shapes)], i, i%7)
			b.WriteString(",")
		}
		b.WriteString(last + `]}`)
		reason := anyReason
		if last == `{"id":1,"k":2,"name":"a"}` {
			reason = ""
		}
		sameAsJSONText(t, b.String(), last, reason)
	}
}

// TestFrameValues: records whose bytes outside their values are exactly
// the frame's (scanFramed compares those and validates only the values)
// are refused for a bad value as the jsontext path refuses them, and
// records of other spacing or names leave the frame for scanShaped.
func TestFrameValues(t *testing.T) {
	first := `{"id":1,"k":2,"name":"a"},{"id":2,"k":4,"name":"b"},`
	for _, tc := range []struct{ rec, reason string }{
		{`{"id":3,"k":6,"name":"c"}`, ""},
		{`{"id":"x","k":[1,{"a":2}],"name":null}`, ""},
		{`{"id":3,"k":6,"name":"caf\u00e9 \"q\" \\"}`, ""},
		{`{"id":3,"k":6,"name":"` + "é" + `"}`, ""},
		{`{"id":3,"k":6,"name":"c"} `, ""},
		{`{"id":3, "k":6,"name":"c"}`, ""},
		{`{"id":3,"k":6,"name":"c" }`, ""},
		{`{"id":-0.5e+3,"k":6,"name":true}`, ""},
		{`{"id":3,"k":{"a":1,"a":2},"name":"c"}`, ReasonDuplicateName},
		{`{"id":3,"k":6,"name":"` + "\xff" + `"}`, ReasonInvalidJSON},
		{`{"id":3,"k":6,"name":"` + "\x01" + `"}`, ReasonInvalidJSON},
		{`{"id":3,"k":6,"name":"\x"}`, ReasonInvalidJSON},
		{`{"id":3,"k":6,"name":"\ud800"}`, ReasonInvalidJSON},
		{`{"id":01,"k":6,"name":"c"}`, ReasonInvalidJSON},
		{`{"id":1.,"k":6,"name":"c"}`, ReasonInvalidJSON},
		{`{"id":-,"k":6,"name":"c"}`, ReasonInvalidJSON},
		{`{"id":3,"k":tru,"name":"c"}`, ReasonInvalidJSON},
		{`{"id":3,"k":6,"name":"c"`, ReasonInvalidJSON},
		{`{"id":3,"k":6,"name":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`, ReasonTooDeep},
	} {
		for _, reps := range []int{1, 3} {
			in := `{"data":[` + first + strings.Repeat(`{"id":7,"k":8,"name":"z"},`, reps-1) + tc.rec + `]}`
			sameAsJSONText(t, in, tc.rec, tc.reason)
		}
	}
}

// sameAsJSONText filters in (records under "data", evenK on member k)
// with Filter and FilterPure, on the fast path and on the jsontext path
// only: the runs must agree, and fail for reason ("" for none, anyReason
// for any) because of rec.
func sameAsJSONText(t *testing.T, in, rec, reason string) {
	t.Helper()
	for _, pure := range []bool{false, true} {
		p := mustPlan(t, "data", []string{"k"}, Limits{})
		slow := mustPlan(t, "data", []string{"k"}, Limits{})
		slow.jsontextOnly = true
		run, srun := p.Filter, slow.Filter
		if pure {
			run, srun = p.FilterPure, slow.FilterPure
		}
		var out, sout bytes.Buffer
		st, err := run(&out, strings.NewReader(in), evenK)
		sst, serr := srun(&sout, strings.NewReader(in), evenK)
		sameRun(t, "Filter", []byte(in), out.String(), sout.String(), st, sst, err, serr)
		var e *Error
		switch {
		case reason == "" && err != nil:
			t.Errorf("%s: %v", rec, err)
		case reason == anyReason && err == nil:
			t.Errorf("%s: accepted", rec)
		case reason != "" && reason != anyReason && (!errors.As(err, &e) || e.Reason != reason):
			t.Errorf("%s: got %v, want %s", rec, err, reason)
		}
	}
}

const anyReason = "*"

// TestSpecialOrCtl: the lowest byte that specialOrCtl flags is the first
// '"', '\\', control character or non-ASCII byte of the word, for every
// byte value at every position after bytes of every other kind (and none
// is flagged in a word without one).
func TestSpecialOrCtl(t *testing.T) {
	special := func(c byte) bool { return c == '"' || c == '\\' || c < ' ' || c >= 0x80 }
	fillers := []byte{' ', '!', '#', '[', ']', 'a', '~', 0x7f, '0'}
	for pos := range 8 {
		for c := range 256 {
			for _, fill := range fillers {
				for _, after := range []byte{0x00, 0x1f, '"', '\\', 0x80, 0xff, 'z'} {
					var w [8]byte
					for i := range w {
						switch {
						case i < pos:
							w[i] = fill
						case i == pos:
							w[i] = byte(c)
						default:
							w[i] = after
						}
					}
					want := 8
					for i, b := range w {
						if special(b) {
							want = i
							break
						}
					}
					m := specialOrCtl(binary.LittleEndian.Uint64(w[:]))
					got := 8
					if m != 0 {
						got = bits.TrailingZeros64(m) >> 3
					}
					if got != want {
						t.Fatalf("% x: first flagged byte %d, want %d", w, got, want)
					}
				}
			}
		}
	}
}
