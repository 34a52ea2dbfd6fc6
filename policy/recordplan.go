package policy

import (
	"github.com/gatehouse-dev/gatehouse/policy/records"
)

// NewRecordPlan compiles the records plan of a grant with a filter: where
// its records are (path, the grant's records attribute) and which of their
// members the filter reads (fields, its Program's Fields; nil for all). What record filtering reads is bounded: documents nest
// at most 64 deep, and a record (or a single token outside the records) is at
// most 1 MiB. The config package calls it once per distinct path and fields
// and reports its error at the grant; plans are safe for concurrent use, so
// grants may share one.
func NewRecordPlan(path string, fields []string) (*records.Plan, error) {
	return NewProtectedRecordPlan(path, fields, nil)
}

// NewProtectedRecordPlan is NewRecordPlan for a grant that also has field
// protection (hide_fields, mask_fields; nil: none). A grant with fields and
// no filter reads no member: fields is then empty, not nil.
func NewProtectedRecordPlan(path string, fields []string, prot *records.Protection) (*records.Plan, error) {
	return records.NewProtectedPlan(path, fields, prot, records.Limits{MaxDepth: 64, MaxRecordBytes: 1 << 20})
}
