package records

import (
	"errors"
	"strconv"
)

// Stable values of [Error.Reason], suitable for logs and metrics.
const (
	// ReasonInvalidJSON: a syntax error, invalid UTF-8, a truncated
	// document, an empty document or data after the top-level value.
	ReasonInvalidJSON = "invalid_json"
	// ReasonDuplicateName: an object has two members with the same name
	// (anywhere in the document), two members of a record that a
	// case-insensitive decoder may take for one name collide with a field
	// the plan reads, a member name contains NUL (see the package doc), or
	// an object on the records path has a member that may be taken for the
	// path segment besides the segment itself.
	ReasonDuplicateName = "duplicate_name"
	// ReasonNotAnObject: a record is not a JSON object.
	ReasonNotAnObject = "not_an_object"
	// ReasonTooDeep: the document nests deeper than Limits.MaxDepth.
	ReasonTooDeep = "too_deep"
	// ReasonRecordTooLarge: a record, or any single token or whitespace
	// run outside the records, is larger than Limits.MaxRecordBytes.
	ReasonRecordTooLarge = "record_too_large"
	// ReasonDocumentTooLarge: the input is larger than
	// Limits.MaxDocumentBytes.
	ReasonDocumentTooLarge = "document_too_large"
	// ReasonRecordsNotFound: the configured path is missing or does not
	// lead to an array, or the top-level value is of a kind that cannot
	// hold records (not an array or object without a path, not an object
	// with a path).
	ReasonRecordsNotFound = "records_not_found"
)

// Error reports that the input was not acceptable. Whatever Filter has
// written before returning it must be discarded (see [Plan.Filter]).
type Error struct {
	// Reason is one of the Reason* constants.
	Reason string
	// Offset is the byte offset in the input at or after which the problem
	// was detected.
	Offset int64
	// Err is the underlying error, if any (for example a
	// *jsontext.SyntacticError); it may be nil.
	Err error
}

// Error implements the error interface.
func (e *Error) Error() string {
	s := "records: " + e.Reason + " at offset " + strconv.FormatInt(e.Offset, 10)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// ErrRefused is returned by [Plan.Filter] when the document is a single
// object (no path configured) and the predicate does not let the caller see
// it. Nothing has been written to dst in that case; the caller should answer
// as it would for a denied request (for example 403 or 404). It is not an
// [*Error]: the input was acceptable.
var ErrRefused = errors.New("records: the single-object response is not visible to the caller")

func newError(reason string, off int64, msg string) *Error {
	return &Error{Reason: reason, Offset: off, Err: errors.New(msg)}
}
