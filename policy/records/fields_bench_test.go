package records

import (
	"fmt"
	"io"
	"testing"
)

// BenchmarkHideFields filters the documents of BenchmarkFilter (1,000
// records) with field protection: "email" hidden and "name" masked in
// every record, with no filter (every record visible) and with the
// department filter of BenchmarkFilter.
func BenchmarkHideFields(b *testing.B) {
	const n = 1000
	prot := mustProtection(b, FieldRule{Path: "email"}, FieldRule{Path: "name", Mask: []byte(`"***"`)})
	in := benchDoc(n)
	b.Run("nofilter", func(b *testing.B) {
		p, err := NewProtectedPlan("data", []string{}, prot, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		benchFilter(b, in, n, func(src io.Reader) error {
			st, err := p.Filter(io.Discard, src, allVisible)
			if err == nil && (st.Records != n || st.Protected != n) {
				err = fmt.Errorf("stats %+v", st)
			}
			return err
		})
	})
	b.Run("filter", func(b *testing.B) {
		p, err := NewProtectedPlan("data", []string{"department"}, prot, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		benchFilter(b, in, n, func(src io.Reader) error {
			st, err := p.Filter(io.Discard, src, salesOnly)
			if err == nil && st.Protected != n/len(departments) {
				err = fmt.Errorf("stats %+v", st)
			}
			return err
		})
	})
}
