// Package records removes, from JSON API responses, the records a caller
// may not see and the members of records it may not see (field
// protection), and checks JSON request bodies before writes. It streams with
// bounded memory and fails closed on anything it cannot parse. It belongs to
// the policy layer: it decides nothing itself and does no I/O of its own,
// reading and writing only the streams it is handed.
//
// A [Plan] is compiled with [NewPlan] when the configuration is compiled
// (config, through policy.NewRecordPlan; grants with the same records path
// and fields share one), so serving a request builds none;
// the predicate itself (an expr-lang filter such as
// `record.department == lookup.department && record.level <= 3`) is
// compiled elsewhere and reaches this package as a [Predicate] callback.
//
// # Records
//
// The records of a response are:
//   - with no path, the elements of the top-level array; or, when the
//     top-level value is an object, that object itself, in which case the
//     whole response is either passed unchanged or refused with [ErrRefused];
//   - with a dot path such as "data" or "result.items", the elements of the
//     array found by following those member names from the top-level object.
//
// Every record must be a JSON object. Stats.Records counts the records,
// Stats.Removed those not visible.
//
// # What is preserved
//
// The output is the input with byte ranges deleted and nothing else: every
// kept record, the rest of the document (counts such as "total" are left as
// they are) and all insignificant whitespace are copied byte for byte, except
// that a removed record is deleted together with the separator before it
// (the comma and the whitespace around it), or, when the removed records
// are the first ones of the array, together with the separator after it, so
// that the whitespace after '[' is kept. For example, with the second
// record removed,
//
//	{"data": [ {"id":1} ,
//	  {"id":2}, {"id":3} ], "total":3}
//
// becomes
//
//	{"data": [ {"id":1}, {"id":3} ], "total":3}
//
// and with all records removed it becomes {"data": [  ], "total":3}.
// Decoding the output therefore gives the decoded input minus the removed
// records, in order.
//
// With field protection, kept records are also edited, and nothing else
// changes: a hidden member is deleted with its separator by the same rule
// (the comma and whitespace before it, or, when it is the first member
// kept so far, the separator after it, so that the whitespace after '{'
// stays), and a masked member's value bytes are replaced by the mask's JSON
// text. With "salary" hidden and "ssn" masked as "***",
//
//	{ "salary":5 , "id":1, "ssn": "123" }
//
// becomes
//
//	{ "id":1, "ssn": "***" }
//
// and { "salary":5 } becomes {  }, the whitespace around the member kept. Every other byte of a kept record is copied.
//
// # Field protection
//
// A plan built with [NewProtectedPlan] carries a [Protection]: dot paths of
// members hidden (removed) or masked (the value replaced by a JSON
// constant) in every record that the predicate keeps, single objects
// included, with or without a predicate that reads anything. A member is
// taken for a path segment in every spelling a JSON decoder may take for it
// (escapes unescaped; the case comparisons below); intermediate segments
// descend into objects and into every element of arrays (arrays of arrays
// too), and leave strings, numbers, booleans and null alone since they
// cannot hold members. An object on a protected path with two members that
// may be taken for one segment, or a member name with NUL, fails the call
// with [ReasonDuplicateName]: the record is never sent half-hidden. Records
// the predicate hides are not examined. In [Plan.CheckWrite], a record that
// sets a protected member (any path, any spelling, twice included) refuses
// the write and is counted in Stats.Protected.
//
// # Decoding for the predicate
//
// The plan names the top-level record members the predicate reads; only
// those are decoded (nil fields means all of them), the rest of each record
// is skipped without allocating. Values are decoded as: JSON strings as
// string, numbers as float64, true/false as bool, null as nil, arrays as
// []any, objects as map[string]any. A member that the record lacks is absent
// from the map, never a zero value, so `rec["level"].(float64)` fails for a
// record without a level.
//
// float64 cannot tell apart integers of magnitude 2^53 or more (64-bit IDs,
// for example), so a record in which a decoded field holds a number of
// magnitude 2^53 or more (or beyond float64's range) is treated as not
// visible without calling the predicate, and counted in Stats.Errors. With
// fields == nil that applies to every number of the record. Fractional
// numbers are rounded to the nearest float64 as usual.
//
// # Reusing decisions
//
// [Plan.FilterPure] is for predicates that are pure functions of the
// members the plan names (an expr-lang filter that reads record members by
// constant name and does not call now(), within one request). It decides
// each distinct combination of those members' bytes once per call and
// reuses the decision for the records that repeat it, which spares the
// decoding and the predicate for, say, the few values of a "department" or
// "level" member. Decisions live in a fixed table of 256 entries and never
// outlive the call.
//
// Hot path cost: one validating pass over each record's bytes that also
// finds the members the plan reads (see below), a decoding of those
// members, and no allocation per record for fields holding short repeated
// strings or numbers (they are interned); nested arrays and objects in
// decoded fields and new long strings allocate.
//
// # Validation (fail closed)
//
// The whole document is validated as RFC 7493 (I-JSON): strict syntax,
// valid UTF-8 (escaped surrogates only in valid pairs), no duplicate member
// names in any object (compared after unescaping), a single top-level value
// with nothing but whitespace after it. Outside the records array, jsontext
// does it. The records themselves are read by the package's own scanner,
// which checks each record by the same rules in the same pass that finds
// the read members; whatever it does not accept (anything invalid, a name
// problem listed below, a record too deep or too large, input cut short)
// is handed back to jsontext from that record on, so that every refusal is
// reported by jsontext's path with the same reason and offset as ever. The
// fuzz tests check the scanner against jsontext. In addition:
//   - two members of a record whose names some JSON decoder may take for
//     one name are refused when one of the fields the plan reads is among
//     them, because such decoders may take either. That is equality under
//     Unicode simple case folding (strings.EqualFold, encoding/json; e.g.
//     "level" and "Level", or "k" and U+212A KELVIN SIGN), under per-character
//     upper-casing (.NET's OrdinalIgnoreCase: "id" and "\u0131d" with a
//     dotless i), under lower-casing ("\u0130d"), and Java's
//     equalsIgnoreCase (Jackson). The same applies to all members of
//     objects nested inside read fields, and to all record members when
//     fields is nil. Case variants among members the predicate does not
//     read are allowed. A record with only "Level" while the plan reads
//     "level" is not refused: the predicate sees level as absent;
//   - a member name that contains NUL (U+0000) is refused in a record and in
//     objects nested inside read fields, since decoders written in C end
//     the name there ("level\u0000x" would be read as "level");
//   - an object on the records path must not have a member that such a
//     decoder may take for the path segment, besides the segment itself
//     ({"data":[...],"Data":[...]}), or whose name contains NUL, since a
//     client might read the other one.
//
// Failures are reported as [*Error] with one of the Reason* values. Because
// the output is streamed, part of it may have been written before the
// failure: the caller must then abort the response (see [Plan.Filter]).
//
// # Limits
//
// [Limits] bound the nesting depth of the whole document, the size of each
// record (and of each token and whitespace run outside the records) and
// optionally the size of the document. Memory use per call is about twice
// MaxRecordBytes at worst plus small fixed buffers (field protection adds
// the edits of one record, at most about twice its size, and an output
// buffer of about 32 KiB plus one record's stretch between two edits); it does not grow with
// the number of records. The members of the objects that enclose the records
// array are tracked by jsontext for duplicate detection, so an enclosing
// object with a huge number of members costs memory proportional to their
// names (bounded by MaxDocumentBytes when set).
//
// The package starts no goroutines and has no package-level mutable state;
// a Plan can be used concurrently and reuses its buffers between calls.
package records
