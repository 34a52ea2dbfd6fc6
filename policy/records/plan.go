package records

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Default limits used for zero fields of [Limits].
const (
	DefaultMaxDepth       = 64
	DefaultMaxRecordBytes = 1 << 20
	// maxDepthCeiling is the nesting limit of jsontext itself.
	maxDepthCeiling = 10000
)

// Limits bound the resources one Filter or CheckWrite call may use. A zero
// field takes its default; negative values are rejected by [NewPlan].
type Limits struct {
	// MaxDepth is the maximum nesting depth of arrays and objects in the
	// whole document, counted like jsontext's StackDepth: a top-level array
	// of flat objects has depth 2. Default 64, at most 10000.
	MaxDepth int
	// MaxRecordBytes is the maximum size of one record (its raw bytes,
	// without surrounding whitespace). It also bounds every single token
	// (such as a long string) and every whitespace run outside the records,
	// so that the memory of a call stays O(MaxRecordBytes). Default 1 MiB.
	MaxRecordBytes int
	// MaxDocumentBytes is the maximum size of the whole input; 0 means
	// unlimited.
	MaxDocumentBytes int64
}

// Predicate reports whether a record is visible to the caller.
//
// rec holds the record members the plan names (all members when the plan's
// fields are nil), decoded as: string; float64 for every JSON number; bool;
// nil for null; []any and map[string]any for arrays and objects, with
// elements decoded the same way. A member absent from the record is absent
// from rec (there is never a zero value in its place).
//
// rec and the maps and slices in it are only valid during the call: the map
// is cleared and reused for the next record, so pred must not retain it.
// Scalar values may be shared between records. An error counts as "not
// visible" (and is counted in [Stats.Errors]).
type Predicate func(rec map[string]any) (bool, error)

// Stats describes one Filter or CheckWrite call.
type Stats struct {
	// Records is the number of records examined and Removed the number
	// of them not visible (removed by Filter, refused by CheckWrite).
	Records, Removed int
	// Errors counts the removed records for which the predicate returned
	// an error or a read field could not be decoded faithfully (a number
	// of magnitude 2^53 or more); they are included in Removed.
	Errors int
	// BytesIn is the number of bytes read from src, BytesOut the number
	// written to dst.
	BytesIn, BytesOut int64
	// Protected counts, with field protection (see [Protection]), the
	// records in which Filter hid or masked a member, or the records of
	// a CheckWrite body that set a hidden or masked member (any one
	// refuses the write).
	Protected int
}

// Plan is the compiled record-filtering plan of one grant. It is built once
// (at configuration load) with [NewPlan] and is safe for concurrent use by
// multiple goroutines. A Plan must not be copied.
type Plan struct {
	path       []string
	all        bool
	fields     []string
	fieldBytes [][]byte
	fieldASCII []bool
	fieldKeys  [][]byte // appendCaseKey of each field
	// lenMask has bit n set if an ASCII name of length n (n < 64) could
	// equal or fold to a read field: a fast path for the common case.
	lenMask uint64
	lim     Limits
	pool    sync.Pool // of *run, to reuse buffers between calls
	// prot is the field protection (fields.go); nil: none.
	prot *Protection
	// jsontextOnly turns the fast path off (see scan.go): only tests set
	// it, to compare the two paths.
	jsontextOnly bool
}

// NewPlan compiles a plan.
//
// path is "" when the records are the elements of the top-level array (or
// the top-level object itself), or a dot path such as "data" or
// "result.items" naming, from the top-level object, the member whose value
// is the records array. Segments are member names compared exactly; they
// must be non-empty (so a member name that contains a dot cannot be named).
//
// fields lists the top-level record members the predicate reads; only those
// are decoded, the rest of each record is validated and skipped. nil means
// all members; an empty non-nil slice means none. Names must be non-empty;
// repeated names are ignored.
func NewPlan(path string, fields []string, lim Limits) (*Plan, error) {
	segs, err := ParsePath(path)
	if err != nil {
		return nil, err
	}
	p := &Plan{path: segs}
	if fields == nil {
		p.all = true
	} else {
		p.fields = []string{}
		seen := make(map[string]bool, len(fields))
		for _, f := range fields {
			if f == "" {
				return nil, errors.New("records: empty field name")
			}
			if !utf8.ValidString(f) {
				return nil, fmt.Errorf("records: field name %q is not valid UTF-8", f)
			}
			if seen[f] {
				continue
			}
			seen[f] = true
			p.fields = append(p.fields, f)
			p.fieldBytes = append(p.fieldBytes, []byte(f))
			p.fieldASCII = append(p.fieldASCII, isASCII(f))
			p.fieldKeys = append(p.fieldKeys, appendCaseKey(nil, f))
			if !isASCII(f) || len(f) >= 64 {
				p.lenMask = ^uint64(0)
			} else {
				p.lenMask |= 1 << len(f)
			}
		}
	}
	switch {
	case lim.MaxDepth < 0, lim.MaxRecordBytes < 0, lim.MaxDocumentBytes < 0:
		return nil, errors.New("records: negative limit")
	case lim.MaxDepth > maxDepthCeiling:
		return nil, fmt.Errorf("records: MaxDepth %d exceeds %d", lim.MaxDepth, maxDepthCeiling)
	}
	if lim.MaxDepth == 0 {
		lim.MaxDepth = DefaultMaxDepth
	}
	if lim.MaxRecordBytes == 0 {
		lim.MaxRecordBytes = DefaultMaxRecordBytes
	}
	// The records array sits at depth len(path)+1 and a record is one
	// deeper: a smaller MaxDepth would refuse every document.
	if need := len(p.path) + 2; lim.MaxDepth < need {
		return nil, fmt.Errorf("records: MaxDepth %d is too small for path %q (need at least %d)", lim.MaxDepth, path, need)
	}
	p.lim = lim
	return p, nil
}

// For reports whether p was compiled for path and fields, as passed to
// [NewPlan] (the order and repetitions of fields do not matter).
func (p *Plan) For(path string, fields []string) bool {
	if strings.Join(p.path, ".") != path || (fields == nil) != p.all {
		return false
	}
	for _, f := range fields {
		if !slices.Contains(p.fields, f) {
			return false
		}
	}
	for _, f := range p.fields {
		if !slices.Contains(fields, f) {
			return false
		}
	}
	return true
}

// ParsePath splits a records path as [NewPlan] reads it: "" is no path
// (nil), "data" or "result.items" are member names separated by dots, each
// of them non-empty.
func ParsePath(path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	segs := strings.Split(path, ".")
	for _, s := range segs {
		if s == "" {
			return nil, fmt.Errorf("records: invalid records path %q: empty segment", path)
		}
	}
	return segs, nil
}

// mayMatch reports whether an ASCII member name of length n may equal or
// fold to a read field.
func (p *Plan) mayMatch(n int) bool {
	return n >= 64 || p.lenMask&(1<<n) != 0
}

func isASCII[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
