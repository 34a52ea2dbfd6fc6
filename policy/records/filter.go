package records

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

const (
	// flushThreshold is how many bytes of kept output may be pending
	// before they are written to dst.
	flushThreshold = 32 << 10
	// Runs that saw more than this (a large record or window) are not
	// pooled, so that one big response does not pin memory.
	poolMaxBytes = 256 << 10
	// readSize is how much is read from src at a time. The decoder asks
	// for about 4 KiB at a time; from a network body each such read would
	// be a system call (ReverseProxy itself reads 32 KiB at a time).
	readSize = 32 << 10
)

var errOverLimit = errors.New("records: size limit reached")

const errTrailingData = "data after the top-level value"

// input sits between src and the jsontext decoder. It keeps a window of the
// raw input from the first byte not yet written or dropped (emitted) up to
// the last byte handed to the decoder, so that the output is copied from the
// original bytes, and it enforces the size limits by refusing to hand the
// decoder more bytes than the current step may need.
type input struct {
	src     io.Reader
	win     []byte // input bytes [base, n)
	base    int64
	emitted int64  // bytes before this offset were written or dropped
	n       int64  // bytes read from src
	rd      int64  // bytes handed to the decoder: rd <= n, [rd, n) is replayed
	pre     []byte // synthetic bytes handed to the decoder before rd (see resume)
	elems   int64  // then this many synthetic bytes of "{}" elements (see resume)
	elemAt  int64  // of which this many were handed over
	limit   int64  // the decoder may not be handed bytes at or past this
	maxDoc  int64
	err     error // sticky read error from src (not io.EOF)

	limitHit, docHit, bigBuf bool
	eof                      bool // src said io.EOF: it is not read again
	probe                    [1]byte
}

func (in *input) Read(p []byte) (int, error) {
	if len(in.pre) > 0 {
		n := copy(p, in.pre)
		in.pre = in.pre[n:]
		return n, nil
	}
	if in.elemAt < in.elems {
		// "{}" then ",{}" for each further element.
		n := int(min(int64(len(p)), in.elems-in.elemAt))
		for i := range n {
			q := in.elemAt + int64(i)
			if q < 2 {
				p[i] = "{}"[q]
			} else {
				p[i] = ",{}"[(q-2)%3]
			}
		}
		in.elemAt += int64(n)
		return n, nil
	}
	if in.rd < in.n {
		// Bytes the fast path read ahead.
		if in.rd >= in.limit {
			in.limitHit = true
			return 0, errOverLimit
		}
		m := min(int64(len(p)), in.n-in.rd, in.limit-in.rd)
		copy(p, in.win[in.rd-in.base:][:m])
		in.rd += m
		return int(m), nil
	}
	if in.err != nil {
		return 0, in.err
	}
	if in.n >= in.limit {
		in.limitHit = true
		return 0, errOverLimit
	}
	if in.eof {
		return 0, io.EOF
	}
	if rem := in.limit - in.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	if in.maxDoc > 0 {
		if in.n >= in.maxDoc {
			// Exactly at the limit: anything more is too much.
			for range 100 {
				n, err := in.src.Read(in.probe[:])
				if n > 0 {
					in.docHit = true
					return 0, errOverLimit
				}
				if err != nil {
					if err != io.EOF {
						in.err = err
					}
					in.eof = err == io.EOF
					return 0, err
				}
			}
			in.err = io.ErrNoProgress
			return 0, in.err
		}
		if rem := in.maxDoc - in.n; int64(len(p)) > rem {
			p = p[:rem]
		}
	}
	if len(p) > poolMaxBytes {
		in.bigBuf = true // the decoder's buffer grew: do not pool it
	}
	n, err := in.src.Read(p)
	if n > 0 {
		in.keep(p[:n])
	}
	if err != nil && err != io.EOF {
		in.err = err
	}
	in.eof = err == io.EOF
	return n, err
}

// keep appends b to the window, first discarding the bytes already emitted
// if the window would otherwise have to grow.
func (in *input) keep(b []byte) {
	if len(in.win)+len(b) > cap(in.win) {
		if d := int(in.emitted - in.base); d > 0 {
			m := copy(in.win, in.win[d:])
			in.win = in.win[:m]
			in.base = in.emitted
		}
	}
	in.win = append(in.win, b...)
	in.n += int64(len(b))
	in.rd = in.n
}

// more reads from src into the window, for the fast path, until it holds
// the bytes before offset want, reading nothing at or past upto (nor past
// MaxDocumentBytes). It reports whether it read anything.
func (in *input) more(want, upto int64) bool {
	if in.maxDoc > 0 && upto > in.maxDoc {
		upto = in.maxDoc
	}
	want = min(want, upto)
	read := false
	for tries := 0; in.n < want && in.err == nil && !in.eof && tries < 100; tries++ {
		if len(in.win) == cap(in.win) {
			if d := int(in.emitted - in.base); d > 0 {
				m := copy(in.win, in.win[d:])
				in.win = in.win[:m]
				in.base = in.emitted
			}
			if len(in.win) == cap(in.win) {
				// Grow by what this call may still read, at most doubling:
				// the window stays within about MaxRecordBytes plus what
				// is pending output (see Limits).
				grow := max(readSize, min(len(in.win), int(upto-in.n)))
				w := make([]byte, len(in.win), len(in.win)+grow)
				copy(w, in.win)
				in.win = w
			}
		}
		p := in.win[len(in.win):cap(in.win)]
		if rem := upto - in.n; int64(len(p)) > rem {
			p = p[:rem]
		}
		n, err := in.src.Read(p)
		in.win = in.win[:len(in.win)+n]
		in.n += int64(n)
		if n > 0 {
			read, tries = true, 0
		}
		if err != nil {
			if err != io.EOF {
				in.err = err
			}
			in.eof = err == io.EOF
			break
		}
	}
	return read
}

// valueStart returns the offset of the first byte at or after off that is
// neither whitespace nor a comma, among the bytes handed to the decoder.
// The bytes must be in the window.
func (in *input) valueStart(off int64) int64 {
	w := in.win[off-in.base : in.rd-in.base] // what the decoder saw
	for i, c := range w {
		switch c {
		case ' ', '\t', '\n', '\r', ',':
		default:
			return off + int64(i)
		}
	}
	return off + int64(len(w))
}

// run is the state of one Filter or CheckWrite call; runs are pooled in the
// Plan.
type run struct {
	p      *Plan
	in     input
	dec    *jsontext.Decoder
	out    io.Writer // nil for CheckWrite
	pred   Predicate
	x      extractor
	fw     fieldWalk // field protection (fields.go)
	memo   memo
	src    *bufio.Reader // buffers reads from the caller's src
	st     Stats
	maxRec int64
	big    bool
	// delta is the offset in the input of the decoder's offset 0: the
	// decoder may have been reset to read a synthetic prefix (see resume).
	delta int64
	// head is the synthetic prefix of resume for the records path: each
	// object on it with the names read before the path's member, ending
	// in the records array's '['. synth is the prefix for an array that
	// is not on the path ("[").
	head  []byte
	synth []byte
}

func (p *Plan) getRun(src io.Reader, out io.Writer, pred Predicate, reuse bool) *run {
	r, _ := p.pool.Get().(*run)
	if r == nil {
		r = &run{p: p, maxRec: int64(p.lim.MaxRecordBytes), memo: newMemo()}
		r.x.init(p)
		r.dec = jsontext.NewDecoder(&r.in)
		r.src = bufio.NewReaderSize(src, readSize)
	} else {
		r.dec.Reset(&r.in)
		r.src.Reset(src)
	}
	win := r.in.win[:0]
	r.in = input{src: r.src, win: win, maxDoc: p.lim.MaxDocumentBytes}
	r.out, r.pred, r.st, r.big, r.delta = out, pred, Stats{}, false, 0
	r.x.shapeMiss = 0
	r.fw.out, r.fw.edits = r.fw.out[:0], r.fw.edits[:0] // nothing of a failed call
	r.setMemo(reuse)
	return r
}

func (p *Plan) putRun(r *run) {
	if r.big || r.in.bigBuf || cap(r.in.win) > poolMaxBytes {
		return
	}
	r.in.src, r.out, r.pred = nil, nil, nil
	r.src.Reset(nil)
	clear(r.x.rec)
	if cap(r.head) > poolMaxBytes {
		r.head = nil
	}
	p.pool.Put(r)
}

// Filter copies the JSON document read from src to dst, removing the
// records for which pred reports false or an error. See the package
// documentation for what a record is and what is preserved.
//
// Output is streamed: by the time an error is returned, part of the document
// may already have been written to dst. Any non-nil error therefore means
// the response is unusable and the caller must abort it: before the first
// byte reached the client it can still answer 502; afterwards it must break
// the connection (an HTTP handler panics with http.ErrAbortHandler) rather
// than end the response normally. The errors are:
//   - an [*Error] when the input is not acceptable (fail closed);
//   - [ErrRefused] when a single-object document is not visible (nothing
//     has been written in that case);
//   - an error wrapping the error of src or dst when reading or writing
//     fails.
//
// Memory use is bounded by about 2*Limits.MaxRecordBytes plus small
// buffers, independently of the number of records. Filter does not start
// goroutines and calls pred (which must not be nil) sequentially, once per
// record whose fields could be decoded, in document order. Stats.BytesIn
// counts the bytes read from src, Stats.BytesOut those written to dst.
func (p *Plan) Filter(dst io.Writer, src io.Reader, pred Predicate) (Stats, error) {
	return p.filter(dst, src, pred, false)
}

func (p *Plan) filter(dst io.Writer, src io.Reader, pred Predicate, reuse bool) (Stats, error) {
	r := p.getRun(src, dst, pred, reuse)
	err := r.filter()
	st := r.st
	st.BytesIn = r.in.n
	p.putRun(r)
	return st, err
}

// CheckWrite validates a request body for write filtering: the body must be
// a single object (one record) or an array of objects, and allowed is true
// only if pred reports true for every record (so also for an empty array)
// and, with field protection, no record sets a hidden or masked member
// (st.Protected counts those that do).
// The plan's path is not used. The whole body is read and validated, up to
// Limits.MaxDocumentBytes, even after a record is refused; the same limits
// and error kinds as for [Plan.Filter] apply, and any error means the write
// must be refused.
func (p *Plan) CheckWrite(src io.Reader, pred Predicate) (allowed bool, st Stats, err error) {
	r := p.getRun(src, nil, pred, false)
	err = r.check()
	st = r.st
	st.BytesIn = r.in.n
	p.putRun(r)
	return err == nil && st.Removed == 0 && st.Protected == 0, st, err
}

func (r *run) filter() error {
	r.general()
	k := r.dec.PeekKind()
	switch {
	case k == jsontext.KindInvalid:
		_, err := r.dec.ReadToken()
		return r.fail(err)
	case len(r.p.path) > 0:
		if k != '{' {
			return newError(ReasonRecordsNotFound, r.in.valueStart(0), "top-level value is not an object")
		}
		if err := r.begin(); err != nil {
			return err
		}
		if err := r.object(0); err != nil {
			return err
		}
	case k == '[':
		if err := r.begin(); err != nil {
			return err
		}
		if err := r.records(false); err != nil {
			return err
		}
	case k == '{':
		keep, err := r.single()
		if err != nil {
			return err
		}
		// Validate the rest before refusing: invalid input wins.
		if err := r.expectEOF(); err != nil {
			return err
		}
		if !keep {
			return ErrRefused
		}
		if err := r.emitProtected(); err != nil {
			return err
		}
		return r.flushTo(r.in.n)
	default:
		return newError(ReasonRecordsNotFound, r.in.valueStart(0), "top-level value is not an array or object")
	}
	if err := r.expectEOF(); err != nil {
		return err
	}
	return r.flushTo(r.in.n)
}

func (r *run) check() error {
	r.general()
	k := r.dec.PeekKind()
	switch k {
	case jsontext.KindInvalid:
		_, err := r.dec.ReadToken()
		return r.fail(err)
	case '[':
		if err := r.begin(); err != nil {
			return err
		}
		if err := r.records(false); err != nil {
			return err
		}
	case '{':
		if _, err := r.single(); err != nil {
			return err
		}
	default:
		return newError(ReasonRecordsNotFound, r.in.valueStart(0), "top-level value is not an array or object")
	}
	return r.expectEOF()
}

// pos is the input offset of the decoder.
func (r *run) pos() int64 { return r.dec.InputOffset() + r.delta }

// general sets the read limit for a step outside the records: one token
// and the whitespace before it.
func (r *run) general() {
	r.in.limit = r.pos() + r.maxRec
}

// begin reads a '{' or '[' token already peeked, enforcing the depth limit.
func (r *run) begin() error {
	if _, err := r.dec.ReadToken(); err != nil {
		return r.fail(err)
	}
	if r.dec.StackDepth() > r.p.lim.MaxDepth {
		return newError(ReasonTooDeep, r.pos()-1, "nesting exceeds MaxDepth")
	}
	return nil
}

// object processes the members of the object at path level level, whose
// '{' has been read, descending into the member named by the path.
func (r *run) object(level int) error {
	seg := r.p.path[level]
	last := level == len(r.p.path)-1
	if level == 0 {
		r.head = r.head[:0]
	}
	r.head = append(r.head, '{')
	found, variant := false, false
	var variantAt int64
	for {
		r.general()
		k := r.dec.PeekKind()
		if k == '}' {
			break
		}
		tok, err := r.dec.ReadToken()
		if err != nil {
			return r.fail(err)
		}
		nameAt := r.pos()
		name := tok.String()
		if !found {
			r.head, _ = jsontext.AppendQuote(r.head, name)
			switch {
			case name != seg:
				r.head = append(r.head, ":0,"...)
			case last:
				r.head = append(r.head, ":["...)
			default:
				r.head = append(r.head, ':')
			}
		}
		if name != seg {
			if foldEqual(name, seg) || strings.IndexByte(name, 0) >= 0 {
				// A name some decoder takes for seg (see appendCaseKey)
				// or ends at its NUL.
				variant, variantAt = true, nameAt
			}
			if err := r.skip(); err != nil {
				return err
			}
			r.maybeFlush()
			continue
		}
		found = true
		r.general()
		want := jsontext.Kind('{')
		if last {
			want = '['
		}
		switch k := r.dec.PeekKind(); k {
		case jsontext.KindInvalid:
			_, err := r.dec.ReadToken()
			return r.fail(err)
		case want:
		default:
			return newError(ReasonRecordsNotFound, r.in.valueStart(r.pos()),
				fmt.Sprintf("path segment %q is a JSON %s, want %s", seg, kindName(k), kindName(want)))
		}
		if err := r.begin(); err != nil {
			return err
		}
		if last {
			err = r.records(true)
		} else {
			err = r.object(level + 1)
		}
		if err != nil {
			return err
		}
		r.maybeFlush()
	}
	r.general()
	if _, err := r.dec.ReadToken(); err != nil {
		return r.fail(err)
	}
	switch {
	case !found:
		return newError(ReasonRecordsNotFound, r.pos(), fmt.Sprintf("path segment %q not found", seg))
	case variant:
		return newError(ReasonDuplicateName, variantAt, fmt.Sprintf("a member name that decoders may take for path segment %q", seg))
	}
	return nil
}

// skip reads the next value outside the records token by token, so that
// its size is not limited, enforcing the depth limit.
func (r *run) skip() error {
	r.general()
	k := r.dec.PeekKind()
	if k != '{' && k != '[' {
		if _, err := r.dec.ReadToken(); err != nil {
			return r.fail(err)
		}
		return nil
	}
	base := r.dec.StackDepth()
	for {
		r.general()
		tok, err := r.dec.ReadToken()
		if err != nil {
			return r.fail(err)
		}
		d := r.dec.StackDepth()
		switch tok.Kind() {
		case '{', '[':
			if d > r.p.lim.MaxDepth {
				return newError(ReasonTooDeep, r.pos()-1, "nesting exceeds MaxDepth")
			}
		}
		if d == base {
			return nil
		}
		r.maybeFlush()
	}
}

// records processes the elements of the records array, whose '[' has been
// read, up to and including its ']'.
//
// Output is the input minus byte ranges: a removed element goes with the
// separator before it ("," and whitespace), or, when no element has been
// kept yet, the first kept element loses the separator before it instead.
//
// onPath says whether the array is on the plan's records path (rather
// than a top-level array that CheckWrite examines whatever the path).
func (r *run) records(onPath bool) error {
	depth := r.dec.StackDepth()
	i, at, kept, end, err := r.fastRecords(depth)
	if err != nil {
		return err
	}
	if end {
		i = 0 // the decoder need not count the elements: ']' is next
	}
	if err := r.resume(at, i, onPath); err != nil {
		return err
	}
	return r.slowRecords(depth, i, at, kept)
}

// slowRecords is records from element i on, with jsontext reading each
// record; prevEnd is where the element before ended, kept whether an
// element was kept.
func (r *run) slowRecords(depth, i int, prevEnd int64, kept bool) error {
	for ; ; i++ {
		before := r.pos()
		r.in.limit = before + r.maxRec // bounds the separator
		k := r.dec.PeekKind()
		if k == ']' {
			break
		}
		if k == jsontext.KindInvalid {
			_, err := r.dec.ReadValue()
			return r.fail(err)
		}
		start := r.in.valueStart(before)
		r.in.limit = start + r.maxRec
		v, err := r.dec.ReadValue()
		if err != nil {
			return r.fail(err)
		}
		end := r.pos()
		if end-int64(len(v)) != start {
			return newError(ReasonInvalidJSON, start, "internal error: record offsets disagree")
		}
		keep, err := r.record(v, k, start, depth)
		if err != nil {
			return err
		}
		if kept, err = r.place(keep, i, start, end, prevEnd, kept); err != nil {
			return err
		}
		prevEnd = end
	}
	r.general()
	if _, err := r.dec.ReadToken(); err != nil {
		return r.fail(err)
	}
	return nil
}

// single processes a top-level object that is itself the record.
func (r *run) single() (bool, error) {
	start := r.in.valueStart(0)
	r.in.limit = start + r.maxRec
	v, err := r.dec.ReadValue()
	if err != nil {
		return false, r.fail(err)
	}
	if r.pos()-int64(len(v)) != start {
		return false, newError(ReasonInvalidJSON, start, "internal error: record offsets disagree")
	}
	return r.record(v, '{', start, 0)
}

// record examines one record, raw bytes v of kind k starting at input
// offset start, in a container at depth depth, and reports whether it is
// visible.
func (r *run) record(v []byte, k jsontext.Kind, start int64, depth int) (bool, error) {
	r.st.Records++
	if int64(len(v)) > r.maxRec {
		return false, newError(ReasonRecordTooLarge, start, "record exceeds MaxRecordBytes")
	}
	if len(v) > poolMaxBytes {
		r.big = true
	}
	if k != '{' {
		return false, newError(ReasonNotAnObject, start, "record is a JSON "+kindName(k))
	}
	budget := r.p.lim.MaxDepth - depth
	st := r.x.extract(v, budget)
	var out outcome
	if st == stOK || st == stBadValue {
		out, st = r.decide(v, st, budget)
	}
	switch st {
	case stOK:
	case stTooDeep:
		return false, newError(ReasonTooDeep, start+int64(r.x.off), "nesting exceeds MaxDepth")
	case stDupName:
		return false, newError(ReasonDuplicateName, start+int64(r.x.off), "record member names that decoders may take for one name (case variants of a field the predicate reads, or a name with NUL)")
	default:
		return false, newError(ReasonInvalidJSON, start+int64(r.x.off), "unexpected record syntax")
	}
	return r.settle(v, out, start, budget)
}

// settle counts the decision out on record v (at input offset start) and,
// for a visible record, runs the field protection over it; both record
// paths (record and fastRecords) end with it. It reports whether v is
// kept.
func (r *run) settle(v []byte, out outcome, start int64, budget int) (bool, error) {
	if out == outError {
		r.st.Errors++
	}
	if out != outVisible {
		r.st.Removed++
		return false, nil
	}
	if r.p.prot != nil {
		if err := r.protect(v, start, budget); err != nil {
			return false, err
		}
	}
	return true, nil
}

// place writes or drops element i of the records array, input bytes
// [start, end), after the decision keep. prevEnd is where the element
// before it ended; kept says whether an element was kept before it, and
// the result whether one is now. A dropped element goes with the separator
// before it, or after it when no element is kept yet; a kept one edited by
// the field protection is emitted with its edits.
func (r *run) place(keep bool, i int, start, end, prevEnd int64, kept bool) (bool, error) {
	if !keep {
		from := prevEnd
		if i == 0 {
			from = start
		}
		if err := r.flushTo(from); err != nil {
			return kept, err
		}
		r.in.emitted = end
		return kept, nil
	}
	if !kept && i > 0 {
		r.in.emitted = start // drop the separator
	}
	if len(r.fw.edits) > 0 { // field protection edited it
		if err := r.emitProtected(); err != nil {
			return true, err
		}
	}
	if end-r.in.emitted >= flushThreshold {
		if err := r.flushTo(end); err != nil {
			return true, err
		}
	}
	return true, nil
}

// expectEOF checks that nothing but whitespace follows the top-level value.
func (r *run) expectEOF() error {
	r.general()
	before := r.pos()
	_, err := r.dec.ReadToken()
	switch {
	case err == nil:
		// The offset of the token: the decoder has read it, so it is in
		// the window.
		return newError(ReasonInvalidJSON, r.in.valueStart(before), errTrailingData)
	case err == io.EOF:
		return nil
	}
	return r.fail(err)
}

func (r *run) maybeFlush() {
	if off := r.pos(); off-r.in.emitted >= flushThreshold {
		// A write error is reported by the next flush (the final one).
		r.flushErr(off)
	}
}

func (r *run) flushErr(off int64) {
	if err := r.flushTo(off); err != nil && r.in.err == nil {
		r.in.err = err
	}
}

// flushTo writes the pending input bytes up to offset off.
func (r *run) flushTo(off int64) error {
	if r.in.err != nil {
		return r.ioErr()
	}
	if len(r.fw.out) > 0 { // edited records come before the input at emitted
		if err := r.flushProtected(); err != nil {
			return err
		}
	}
	if off <= r.in.emitted {
		return nil
	}
	b := r.in.win[r.in.emitted-r.in.base : off-r.in.base]
	r.in.emitted = off
	return r.writeOut(b)
}

type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

func (r *run) ioErr() error {
	if we, ok := r.in.err.(*writeError); ok {
		return fmt.Errorf("records: writing output: %w", we.err)
	}
	return fmt.Errorf("records: reading input: %w", r.in.err)
}

// fail converts an error of the decoder into the error Filter reports.
func (r *run) fail(err error) error {
	switch {
	case r.in.docHit:
		return newError(ReasonDocumentTooLarge, r.in.n, "input exceeds MaxDocumentBytes")
	case r.in.limitHit:
		return newError(ReasonRecordTooLarge, r.in.limit, "record, token or whitespace run exceeds MaxRecordBytes")
	case r.in.err != nil:
		return r.ioErr()
	}
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		reason := ReasonInvalidJSON
		switch {
		case se.Err == jsontext.ErrDuplicateName:
			reason = ReasonDuplicateName
		case se.Err != nil && se.Err.Error() == "exceeded max depth":
			reason = ReasonTooDeep // jsontext's own limit, inside a record
		}
		se.ByteOffset += r.delta
		return &Error{Reason: reason, Offset: se.ByteOffset, Err: err}
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return &Error{Reason: ReasonInvalidJSON, Offset: r.in.n, Err: err}
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "value"
}

// fastRecords processes the records with scanRecord (see scan.go) from the
// first element of the records array, whose '[' the decoder has just read,
// for as long as scanRecord accepts them. It returns where the jsontext
// path has to take over: at input offset at, after i elements (the last
// of them ending at at), with kept saying whether one was kept; end is
// true when only the array's closing ']' and what follows remain.
func (r *run) fastRecords(depth int) (i int, at int64, kept, end bool, err error) {
	budget := r.p.lim.MaxDepth - depth
	at = r.pos()
	if r.p.jsontextOnly {
		return 0, at, false, false, nil
	}
	for ; ; i++ {
		var start int64
		if w := r.in.win[at-r.in.base:]; i > 0 && len(w) > 1 && w[0] == ',' && w[1] == '{' {
			start = at + 1 // the separator of compact JSON
		} else {
			lim := at + r.maxRec // bounds the separator
			off, c, ok := r.nextByte(at, lim)
			switch {
			case !ok:
				return i, at, kept, false, nil
			case c == ']':
				return i, at, kept, true, nil
			case i > 0:
				if c != ',' {
					return i, at, kept, false, nil
				}
				if off, c, ok = r.nextByte(off+1, lim); !ok {
					return i, at, kept, false, nil
				}
			}
			if c != '{' {
				return i, at, kept, false, nil
			}
			start = off
		}
		var n int
		for {
			var st status
			if n, st = r.x.scanRecord(r.in.win[start-r.in.base:], budget); st == stOK {
				break
			}
			if st != stShort || !r.in.more(r.in.n+max(readSize, r.in.n-start), start+r.maxRec) {
				return i, at, kept, false, nil
			}
		}
		v := r.in.win[start-r.in.base:][:n]
		out, ok := r.fastDecide(v, budget)
		if !ok {
			return i, at, kept, false, nil
		}
		r.st.Records++
		if len(v) > poolMaxBytes {
			r.big = true
		}
		end := start + int64(n)
		// The field protection's refusals are its own: scanRecord
		// accepted v, so jsontext would report nothing before them.
		keep, err := r.settle(v, out, start, budget)
		if err != nil {
			return i, at, kept, false, err
		}
		if kept, err = r.place(keep, i, start, end, at, kept); err != nil {
			return i, at, kept, false, err
		}
		at = end
	}
}

// nextByte returns the offset and value of the first byte at or after
// input offset off that is not whitespace, reading more input as needed,
// or false when there is none before offset lim.
func (r *run) nextByte(off, lim int64) (int64, byte, bool) {
	for off < lim {
		w := r.in.win[off-r.in.base:]
		if j := skipWS(w, 0); j < len(w) {
			off += int64(j)
			return off, w[j], off < lim
		}
		off += int64(len(w))
		if !r.in.more(off+readSize, lim) {
			break
		}
	}
	return off, 0, false
}

// fastDecide decodes the read members of a record that scanRecord
// accepted and decides it, as record does; false when the record has a
// problem that the jsontext path must report.
func (r *run) fastDecide(v []byte, budget int) (outcome, bool) {
	var st status
	switch {
	case r.p.all:
		st = r.x.extract(v, budget)
	case r.x.spansOnly:
		st = stOK // decide looks the spans up, then decodes them
	default:
		st = r.x.decode(v, budget)
	}
	if st != stOK && st != stBadValue {
		return 0, false
	}
	out, st := r.decide(v, st, budget)
	return out, st == stOK
}

// resume resets the decoder to go on at input offset at, inside the
// records array after elems elements. It first hands the decoder a
// synthetic prefix that brings it into the state it would have there: the
// objects on the records path with the names read so far (for its
// duplicate checks), the '[', and elems placeholder elements (so that its
// error messages name the right element); then the input from at on.
func (r *run) resume(at int64, elems int, onPath bool) error {
	r.synth = append(r.synth[:0], '[')
	b := r.synth
	if onPath {
		b = r.head
	}
	r.in.pre = b
	r.in.elems, r.in.elemAt = 0, 0
	if elems > 0 {
		r.in.elems = 3*int64(elems) - 1 // generated as read: no memory
	}
	synth := int64(len(b)) + r.in.elems
	r.in.rd = at
	r.delta = at - synth
	r.dec.Reset(&r.in)
	r.in.limit = at + r.maxRec
	for r.dec.InputOffset() < synth {
		if _, err := r.dec.ReadToken(); err != nil {
			return r.fail(err)
		}
	}
	return nil
}
