package records

import (
	"io"
	"runtime"
	"testing"
)

// recordStream generates {"data":[records...],"total":n} on the fly, never
// holding more than one record, and samples the Go heap every sampleEvery
// bytes it produces.
type recordStream struct {
	size        int64 // stop adding records once this many bytes are out
	produced    int64
	i           int
	buf         []byte
	off         int // unread part of buf is buf[off:]
	state       int // 0 header, 1 records, 2 trailer, 3 EOF
	sampleEvery int64
	nextSample  int64
	maxHeap     uint64
	samples     int
}

func (s *recordStream) Read(p []byte) (int, error) {
	for s.off == len(s.buf) {
		s.off = 0
		switch s.state {
		case 0:
			s.buf = append(s.buf[:0], `{"data":[`...)
			s.state = 1
		case 1:
			if s.produced >= s.size {
				s.buf = append(s.buf[:0], `],"total":0}`...)
				s.state = 2
				continue
			}
			s.buf = s.buf[:0]
			if s.i > 0 {
				s.buf = append(s.buf, ",\n"...)
			}
			s.buf = appendRecord(s.buf, s.i)
			s.i++
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, s.buf[s.off:])
	s.off += n
	s.produced += int64(n)
	if s.produced >= s.nextSample {
		s.nextSample += s.sampleEvery
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		s.maxHeap = max(s.maxHeap, m.HeapAlloc)
		s.samples++
	}
	return n, nil
}

// TestMemoryBounded filters a generated 50 MB stream to io.Discard and
// checks that the heap in use stays within 8 MB of where it started: memory
// does not grow with the number of records.
func TestMemoryBounded(t *testing.T) {
	size := int64(50 << 20)
	if testing.Short() {
		size = 5 << 20
	}
	p := mustPlan(t, "data", []string{"department", "level"}, Limits{})
	src := &recordStream{size: size, sampleEvery: 256 << 10, buf: make([]byte, 0, 512)}
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	src.maxHeap = m0.HeapAlloc
	st, err := p.Filter(io.Discard, src, func(rec map[string]any) (bool, error) {
		return rec["department"] == "sales" && rec["level"].(float64) <= 3, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&m1)
	growth := int64(src.maxHeap) - int64(m0.HeapAlloc)
	t.Logf("%d records, %.1f MB in, %.1f MB out; heap at start %.2f MB, max sampled %.2f MB (+%.2f MB over %d samples); total allocated during the run %.2f MB, %d allocations",
		st.Records, float64(st.BytesIn)/(1<<20), float64(st.BytesOut)/(1<<20),
		float64(m0.HeapAlloc)/(1<<20), float64(src.maxHeap)/(1<<20), float64(growth)/(1<<20), src.samples,
		float64(m1.TotalAlloc-m0.TotalAlloc)/(1<<20), m1.Mallocs-m0.Mallocs)
	if st.BytesIn < size {
		t.Fatalf("read only %d bytes", st.BytesIn)
	}
	if growth > 8<<20 {
		t.Fatalf("heap grew by %d bytes while streaming", growth)
	}
}
