package records

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

var departments = []string{"sales", "engineering", "support", "legal", "finance"}

// appendRecord appends a realistic record of about 200 bytes and 10 fields.
func appendRecord(b []byte, i int) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `,"name":"User Number `...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `","email":"user`...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `@example.com","department":"`...)
	b = append(b, departments[i%len(departments)]...)
	b = append(b, `","level":`...)
	b = strconv.AppendInt(b, int64(i%7), 10)
	b = append(b, `,"active":true,"manager_id":`...)
	b = strconv.AppendInt(b, int64(i/10), 10)
	b = append(b, `,"created":"2024-01-`...)
	b = strconv.AppendInt(b, int64(10+i%18), 10)
	b = append(b, `T10:00:00Z","tags":["a","b"],"score":`...)
	b = strconv.AppendInt(b, int64(i%100), 10)
	b = append(b, `.5}`...)
	return b
}

func benchDoc(n int) []byte {
	b := []byte(`{"data":[`)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRecord(b, i)
	}
	return append(b, `],"total":`+strconv.Itoa(n)+`,"next":"abc"}`...)
}

func salesOnly(rec map[string]any) (bool, error) { return rec["department"] == "sales", nil }

func reportPerRecord(b *testing.B, n int, run func()) {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	b.ResetTimer()
	for b.Loop() {
		run()
	}
	b.StopTimer()
	runtime.ReadMemStats(&m1)
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(b.N)/float64(n), "allocs/record")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/record")
}

// benchFilter measures run, one Filter-like call on a reader of in (n
// records), per byte and per record.
func benchFilter(b *testing.B, in []byte, n int, run func(src io.Reader) error) {
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	r := bytes.NewReader(in)
	reportPerRecord(b, n, func() {
		r.Reset(in)
		if err := run(r); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkFilter filters {"data":[...n records...],...} with the predicate
// record.department == "sales" reading only "department".
func BenchmarkFilter(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			in := benchDoc(n)
			p := mustPlan(b, "data", []string{"department"}, Limits{})
			benchFilter(b, in, n, func(src io.Reader) error {
				st, err := p.Filter(io.Discard, src, salesOnly)
				if err == nil && (st.Records != n || st.Removed != n-n/len(departments)) {
					err = fmt.Errorf("stats %+v", st)
				}
				return err
			})
		})
	}
}

// BenchmarkFilterAllFields is the same with fields == nil (the whole record
// decoded), for comparison.
func BenchmarkFilterAllFields(b *testing.B) {
	const n = 1000
	p := mustPlan(b, "data", nil, Limits{})
	benchFilter(b, benchDoc(n), n, func(src io.Reader) error {
		_, err := p.Filter(io.Discard, src, salesOnly)
		return err
	})
}

// BenchmarkNaive is the baseline: encoding/json decodes the whole document,
// the records are filtered, and the document is encoded again (which also
// reorders members and normalizes whitespace).
func BenchmarkNaive(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			in := benchDoc(n)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			reportPerRecord(b, n, func() {
				var doc map[string]any
				if err := json.NewDecoder(bytes.NewReader(in)).Decode(&doc); err != nil {
					b.Fatal(err)
				}
				var kept []any
				for _, r := range doc["data"].([]any) {
					if ok, _ := salesOnly(r.(map[string]any)); ok {
						kept = append(kept, r)
					}
				}
				doc["data"] = kept
				if err := json.NewEncoder(io.Discard).Encode(doc); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

func BenchmarkCheckWrite(b *testing.B) {
	const n = 1000
	in := benchDoc(n)
	in = in[len(`{"data":`) : bytes.LastIndexByte(in, ']')+1]
	p := mustPlan(b, "", []string{"department"}, Limits{})
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	r := bytes.NewReader(in)
	reportPerRecord(b, n, func() {
		r.Reset(in)
		if _, _, err := p.CheckWrite(r, salesOnly); err != nil {
			b.Fatal(err)
		}
	})
}

func TestBenchDocIsValid(t *testing.T) {
	in := benchDoc(10)
	if !json.Valid(in) {
		t.Fatalf("invalid: %s", in)
	}
	if n := len(appendRecord(nil, 12345)); n < 180 || n > 230 {
		t.Errorf("record size %d", n)
	}
}

// BenchmarkJSONTextOnly measures jsontext alone validating every record
// with ReadValue (no window, no field extraction, no output): the ceiling
// for Filter, which performs this validation plus its own work.
func BenchmarkJSONTextOnly(b *testing.B) {
	const n = 1000
	in := benchDoc(n)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	r := bytes.NewReader(in)
	dec := jsontext.NewDecoder(r)
	reportPerRecord(b, n, func() {
		r.Reset(in)
		dec.Reset(struct{ io.Reader }{r})
		for range 3 { // {, "data", [
			if _, err := dec.ReadToken(); err != nil {
				b.Fatal(err)
			}
		}
		for dec.PeekKind() != ']' {
			if _, err := dec.ReadValue(); err != nil {
				b.Fatal(err)
			}
		}
		for {
			if _, err := dec.ReadToken(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// upstreamDoc is n records as bench/upstream serves /records?n=N.
func upstreamDoc(n int) []byte {
	b := []byte{'['}
	for i := 1; i <= n; i++ {
		if i > 1 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"id":%d,"department":"%s","level":%d,"name":"Employee %05d","email":"e%05d@example.io"}`,
			i, departments[i%len(departments)], 1+i%5, i, i)
	}
	return append(b, ']')
}

// BenchmarkFilterPureUpstream is the filtered target of bench/run.sh
// (/records?n=1000, record.level >= lookup.min_level with min_level 1,
// every record kept) in the engine alone.
func BenchmarkFilterPureUpstream(b *testing.B) {
	const n = 1000
	p := mustPlan(b, "", []string{"level"}, Limits{})
	benchFilter(b, upstreamDoc(n), n, func(src io.Reader) error {
		st, err := p.FilterPure(io.Discard, src, func(rec map[string]any) (bool, error) {
			l, ok := rec["level"].(float64)
			return ok && l >= 1, nil
		})
		if err == nil && st.Removed != 0 {
			err = fmt.Errorf("stats %+v", st)
		}
		return err
	})
}
