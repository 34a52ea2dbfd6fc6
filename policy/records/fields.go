package records

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// Bounds of field protection rules (see [NewProtection]).
const (
	MaxFieldRules    = 256 // rules per grant
	MaxFieldPathLen  = 256 // bytes of one path
	MaxFieldMaskLen  = 256 // bytes of one mask's JSON text
	maxFieldSegments = 32
)

// FieldRule is one protected member of the records of a grant.
type FieldRule struct {
	// Path is a dot path of member names from the record: "salary", or
	// "bank.iban" for the member iban of the object in the record's
	// member bank.
	Path string
	// Mask is the JSON text that replaces the member's value: a string,
	// number, true, false or null. nil hides the member: it is removed
	// from the record.
	Mask []byte
}

// FieldError reports a rule that [NewProtection] refuses.
type FieldError struct {
	// Index is the rule at fault, Other the rule it conflicts with (-1
	// when none).
	Index, Other int
	Msg          string
}

func (e *FieldError) Error() string { return "records: field " + e.Msg }

// Protection is the compiled field protection of a grant: members hidden
// from (removed from) or masked in every record it returns, and refused in
// write bodies. It is immutable and safe for concurrent use.
//
// Member names are matched as the filter matches the names it reads, but
// more broadly, since a hidden member must not survive in any spelling:
// after unescaping, a member whose name any JSON decoder may take for a
// path segment (see appendCaseKey: case variants, the Kelvin sign, dotless
// i, ...) is that segment. So hiding "salary" removes "Salary" and
// "\u0073alary" too. An object on a protected path with two members that
// match one segment, or a member whose name contains NUL (C decoders end
// the name there), is refused with [ReasonDuplicateName]: which of them a
// client would read is anyone's guess, so no half-hidden record is sent.
//
// Along a path, a member whose value is an object is descended into; one
// whose value is an array has each of its elements descended into (arrays
// in arrays too), since an array of objects can hold the member; other
// values (strings, numbers, booleans, null) cannot hold it and are left as
// they are. The last segment's member is removed or masked whatever its
// value.
type Protection struct {
	rules []FieldRule
	root  *fnode
	masks [][]byte // the masks of the rules, in order
}

// fnode is one level of the rules: the segments that follow, or, at the
// end of a path, what to do with the member.
type fnode struct {
	kids    []fchild
	lenMask uint64 // as Plan.lenMask, over the ASCII kids
	leaf    bool
	mask    uint16 // 1 + index in Protection.masks; 0: hide
}

type fchild struct {
	name  []byte
	key   []byte // appendCaseKey(name)
	ascii bool
	node  *fnode
}

// NewProtection compiles field rules. Paths are dot paths of non-empty
// member names, each at most MaxFieldPathLen bytes of valid UTF-8 without
// NUL and without spaces around a segment. Two rules conflict when their
// paths name the same member or one names a member inside the other's;
// segments are compared as records compare names (case variants are one
// name). Masks must be a JSON string, number, true, false or null of at
// most MaxFieldMaskLen bytes. Errors are [*FieldError].
func NewProtection(rules []FieldRule) (*Protection, error) {
	if len(rules) > MaxFieldRules {
		return nil, &FieldError{Index: MaxFieldRules, Other: -1, Msg: fmt.Sprintf("rules: more than %d", MaxFieldRules)}
	}
	p := &Protection{root: &fnode{}}
	keys := make([][]string, len(rules))
	for i, r := range rules {
		segs, err := ParseFieldPath(r.Path)
		if err != nil {
			return nil, &FieldError{Index: i, Other: -1, Msg: err.Error()}
		}
		if r.Mask != nil {
			if err := checkMask(r.Mask); err != nil {
				return nil, &FieldError{Index: i, Other: -1, Msg: fmt.Sprintf("%q: %v", r.Path, err)}
			}
		}
		for _, s := range segs {
			keys[i] = append(keys[i], string(appendCaseKey(nil, s)))
		}
		for j := range i {
			n := min(len(keys[i]), len(keys[j]))
			if !slicesEqual(keys[i][:n], keys[j][:n]) {
				continue
			}
			switch {
			case len(keys[i]) == len(keys[j]):
				return nil, &FieldError{Index: i, Other: j, Msg: fmt.Sprintf("%q names the same member as %q", r.Path, rules[j].Path)}
			default:
				return nil, &FieldError{Index: i, Other: j, Msg: fmt.Sprintf("%q and %q: one names a member inside the other", r.Path, rules[j].Path)}
			}
		}
		p.add(segs, r.Mask)
		p.rules = append(p.rules, FieldRule{Path: r.Path, Mask: bytes.Clone(r.Mask)})
	}
	return p, nil
}

func slicesEqual(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ParseFieldPath splits a field path as [NewProtection] reads it.
func ParseFieldPath(path string) ([]string, error) {
	switch {
	case path == "":
		return nil, errors.New("path is empty")
	case len(path) > MaxFieldPathLen:
		return nil, fmt.Errorf("path %.32q... is longer than %d bytes", path, MaxFieldPathLen)
	case !utf8.ValidString(path):
		return nil, fmt.Errorf("path %q is not valid UTF-8", path)
	case strings.IndexByte(path, 0) >= 0:
		return nil, fmt.Errorf("path %q contains NUL", path)
	}
	segs := strings.Split(path, ".")
	if len(segs) > maxFieldSegments {
		return nil, fmt.Errorf("path %q has more than %d segments", path, maxFieldSegments)
	}
	for _, s := range segs {
		switch {
		case s == "":
			return nil, fmt.Errorf("path %q has an empty segment", path)
		case strings.TrimSpace(s) != s:
			return nil, fmt.Errorf("path %q has a segment with spaces around it", path)
		}
	}
	return segs, nil
}

// checkMask accepts one JSON scalar without whitespace around it.
func checkMask(m []byte) error {
	if len(m) > MaxFieldMaskLen {
		return fmt.Errorf("mask is longer than %d bytes", MaxFieldMaskLen)
	}
	if len(m) == 0 || !strings.ContainsRune(`"-0123456789tfn`, rune(m[0])) {
		return errors.New("mask must be a JSON string, number, true, false or null")
	}
	dec := jsontext.NewDecoder(bytes.NewReader(m))
	if _, err := dec.ReadToken(); err != nil {
		return fmt.Errorf("mask is not JSON: %v", err)
	}
	if dec.InputOffset() != int64(len(m)) {
		return errors.New("mask must be one JSON value without whitespace around it")
	}
	return nil
}

func (p *Protection) add(segs []string, mask []byte) {
	n := p.root
	for _, s := range segs {
		key := appendCaseKey(nil, s)
		var next *fnode
		for _, c := range n.kids {
			if bytes.Equal(c.key, key) {
				next = c.node
				break
			}
		}
		if next == nil {
			next = &fnode{}
			ascii := isASCII(s)
			n.kids = append(n.kids, fchild{name: []byte(s), key: key, ascii: ascii, node: next})
			if !ascii || len(s) >= 64 {
				n.lenMask = ^uint64(0)
			} else {
				n.lenMask |= 1 << len(s)
			}
		}
		n = next
	}
	n.leaf = true
	if mask != nil {
		p.masks = append(p.masks, bytes.Clone(mask))
		n.mask = uint16(len(p.masks)) // at most MaxFieldRules
	}
}

// Rules returns the rules as compiled (paths and masks as given).
func (p *Protection) Rules() []FieldRule {
	out := make([]FieldRule, len(p.rules))
	for i, r := range p.rules {
		out[i] = FieldRule{Path: r.Path, Mask: bytes.Clone(r.Mask)}
	}
	return out
}

// Hidden returns the paths of the hidden members, in rule order.
func (p *Protection) Hidden() []string {
	var out []string
	for _, r := range p.rules {
		if r.Mask == nil {
			out = append(out, r.Path)
		}
	}
	return out
}

// Masked returns the paths of the masked members, in rule order.
func (p *Protection) Masked() []string {
	var out []string
	for _, r := range p.rules {
		if r.Mask != nil {
			out = append(out, r.Path)
		}
	}
	return out
}

// Equal reports whether p and q hold the same rules in the same order
// (nil equals nil).
func (p *Protection) Equal(q *Protection) bool {
	if p == nil || q == nil {
		return p == q
	}
	if len(p.rules) != len(q.rules) {
		return false
	}
	for i := range p.rules {
		a, b := p.rules[i], q.rules[i]
		if a.Path != b.Path || (a.Mask == nil) != (b.Mask == nil) || !bytes.Equal(a.Mask, b.Mask) {
			return false
		}
	}
	return true
}

// NewProtectedPlan is [NewPlan] for a grant whose records also have field
// protection prot (nil: none, as NewPlan).
func NewProtectedPlan(path string, fields []string, prot *Protection, lim Limits) (*Plan, error) {
	p, err := NewPlan(path, fields, lim)
	if err != nil {
		return nil, err
	}
	p.prot = prot
	return p, nil
}

// PatchMediaType reports whether a Content-Type names JSON Patch
// (application/json-patch+json, RFC 6902): a list of operations whose
// "path" members name what they set, which [Plan.CheckWrite] would read as
// records without protected members. Writes of it through a grant with
// field protection must be refused.
func PatchMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json-patch+json"
}

// Protection returns the plan's field protection, or nil.
func (p *Plan) Protection() *Protection { return p.prot }

// edit replaces record bytes [from, to) with the mask (1 + index in
// Protection.masks), or deletes them (mask 0). It is 12 bytes: a record
// of n bytes has fewer than n/6 edits (each needs a member, `"a":1,` at
// least), so they take about twice its size at worst.
type edit struct {
	from, to int32
	mask     uint16
}

// fieldWalk applies a Protection to one record's raw bytes, already
// validated by jsontext and the extractor (syntax, UTF-8, exact duplicate
// names, depth). It collects the edits that hide and mask members, in
// order and not overlapping.
type fieldWalk struct {
	edits   []edit
	counts  []int // per kid of each object level on the stack
	scratch []byte
	keyBuf  []byte
	out     []byte // the edited record, in pieces
	n       int    // members hidden or masked
	off     int    // offset of a problem in the record
	// start and end are the input offsets of the record the edits are
	// for.
	start, end int64
}

// walk examines record v (an object) against prot with budget nesting
// levels available to it.
func (w *fieldWalk) walk(prot *Protection, v []byte, budget int) status {
	w.edits, w.counts, w.n, w.off = w.edits[:0], w.counts[:0], 0, 0
	if len(v) < 2 || v[0] != '{' {
		return stMalformed
	}
	_, st := w.object(prot.root, v, 0, 1, budget)
	return st
}

func (w *fieldWalk) malformed(i int) (int, status) {
	w.off = i
	return i, stMalformed
}

// object walks the object at v[i] == '{' at nesting depth depth, whose
// members node's kids name, and returns the offset after it.
func (w *fieldWalk) object(node *fnode, v []byte, i, depth, budget int) (int, status) {
	if depth > budget {
		w.off = i
		return i, stTooDeep
	}
	base := len(w.counts)
	for range node.kids {
		w.counts = append(w.counts, 0)
	}
	i, st := w.members(node, v, i, depth, budget, base)
	w.counts = w.counts[:base]
	return i, st
}

// members walks the members of the object at v[i] == '{' for object, with
// the match counts of its kids at w.counts[base:].
func (w *fieldWalk) members(node *fnode, v []byte, i, depth, budget, base int) (int, status) {
	i = skipWS(v, i+1)
	if i < len(v) && v[i] == '}' {
		return i + 1, stOK
	}
	kept := false
	prevEnd := -1
	for idx := 0; ; idx++ {
		if i >= len(v) || v[i] != '"' {
			return w.malformed(i)
		}
		s := i
		end, esc, nonASCII := scanString(v, i)
		if end < 0 {
			return w.malformed(i)
		}
		name := v[i+1 : end-1]
		if esc {
			var err error
			if w.scratch, err = jsontext.AppendUnquote(w.scratch[:0], v[i:end]); err != nil {
				return w.malformed(i)
			}
			name = w.scratch
			nonASCII = !isASCII(name)
			if bytes.IndexByte(name, 0) >= 0 {
				w.off = s
				return s, stDupName
			}
		}
		k := -1
		if nonASCII || len(name) >= 64 || node.lenMask&(1<<len(name)) != 0 {
			k = w.match(node, name, !nonASCII, base)
			if k == -2 {
				w.off = s
				return s, stDupName
			}
		}
		i = skipWS(v, end)
		if i >= len(v) || v[i] != ':' {
			return w.malformed(i)
		}
		vs := skipWS(v, i+1)
		t := skipValue(v, vs)
		if t < 0 {
			return w.malformed(vs)
		}
		var kid *fnode
		if k >= 0 {
			kid = node.kids[k].node
		}
		if kid != nil && kid.leaf && kid.mask == 0 {
			from := prevEnd
			if idx == 0 {
				from = s
			}
			w.cut(from, t)
			w.n++
		} else {
			if !kept && idx > 0 {
				w.cut(prevEnd, s) // the separator before the first kept member
			}
			kept = true
			switch {
			case kid == nil:
			case kid.leaf:
				w.edits = append(w.edits, edit{int32(vs), int32(t), kid.mask})
				w.n++
			case v[vs] == '{':
				if _, st := w.object(kid, v, vs, depth+1, budget); st != stOK {
					return vs, st
				}
			case v[vs] == '[':
				if _, st := w.array(kid, v, vs, depth+1, budget); st != stOK {
					return vs, st
				}
			}
		}
		prevEnd = t
		var more bool
		var st status
		if i, more, st = w.next(v, t, '}'); !more {
			return i, st
		}
	}
}

// next reads what follows a member or element ending at v[i]: a ',' (more,
// and i is the next one's first byte) or closer (i is after it).
func (w *fieldWalk) next(v []byte, i int, closer byte) (int, bool, status) {
	i = skipWS(v, i)
	switch {
	case i >= len(v):
	case v[i] == ',':
		return skipWS(v, i+1), true, stOK
	case v[i] == closer:
		return i + 1, false, stOK
	}
	i, st := w.malformed(i)
	return i, false, st
}

// cut deletes [from, to), merging with the previous edit when adjacent.
func (w *fieldWalk) cut(from, to int) {
	if n := len(w.edits); n > 0 && w.edits[n-1].mask == 0 && w.edits[n-1].to == int32(from) {
		w.edits[n-1].to = int32(to)
		return
	}
	w.edits = append(w.edits, edit{int32(from), int32(to), 0})
}

// array walks the elements of the array at v[i] == '[' on a protected path:
// objects are walked with node, arrays descended into, the rest skipped.
func (w *fieldWalk) array(node *fnode, v []byte, i, depth, budget int) (int, status) {
	if depth > budget {
		w.off = i
		return i, stTooDeep
	}
	i = skipWS(v, i+1)
	if i < len(v) && v[i] == ']' {
		return i + 1, stOK
	}
	for {
		if i >= len(v) {
			return w.malformed(i)
		}
		var st status
		switch v[i] {
		case '{':
			i, st = w.object(node, v, i, depth+1, budget)
		case '[':
			i, st = w.array(node, v, i, depth+1, budget)
		default:
			if i = skipValue(v, i); i < 0 {
				return w.malformed(len(v))
			}
		}
		if st != stOK {
			return i, st
		}
		var more bool
		if i, more, st = w.next(v, i, ']'); !more {
			return i, st
		}
	}
}

// match returns the kid of node that name may be taken for, -1 if none,
// or -2 when name is the second member of the object at counts[base:] to
// be taken for that kid.
func (w *fieldWalk) match(node *fnode, name []byte, nameASCII bool, base int) int {
	var key []byte
	for k, c := range node.kids {
		switch {
		case nameASCII && c.ascii:
			if len(name) != len(c.name) || !bytes.EqualFold(name, c.name) {
				continue
			}
		default:
			if key == nil {
				w.keyBuf = appendCaseKey(w.keyBuf[:0], name)
				key = w.keyBuf
			}
			if !bytes.Equal(key, c.key) {
				continue
			}
		}
		w.counts[base+k]++
		if w.counts[base+k] > 1 {
			return -2
		}
		return k // kids have distinct keys: no other can match
	}
	return -1
}

// skipValue returns the offset after the JSON value at v[i:], or -1.
func skipValue(v []byte, i int) int {
	if i >= len(v) {
		return -1
	}
	switch v[i] {
	case '"':
		end, _, _ := scanString(v, i)
		return end
	case '{', '[':
		d := 0
		for j := i; j < len(v); {
			switch v[j] {
			case '"':
				end, _, _ := scanString(v, j)
				if end < 0 {
					return -1
				}
				j = end
				continue
			case '{', '[':
				d++
			case '}', ']':
				d--
				if d == 0 {
					return j + 1
				}
			}
			j++
		}
		return -1
	}
	j := i
	for j < len(v) && !isDelim(v[j]) {
		j++
	}
	return j
}

// protect runs the plan's field protection over the visible record v (at
// input offset start), leaving its edits in r.fw for emitProtected. In
// CheckWrite, the members it finds refuse the record instead.
func (r *run) protect(v []byte, start int64, budget int) error {
	w := &r.fw
	if len(v) > math.MaxInt32 { // edits hold 32-bit offsets
		return newError(ReasonRecordTooLarge, start, "record too large for field protection")
	}
	st := w.walk(r.p.prot, v, budget)
	if st == stDupName && r.out == nil {
		// A write body with two spellings of a protected member sets it.
		w.n, w.edits, st = 1, w.edits[:0], stOK
	}
	switch st {
	case stOK:
	case stTooDeep:
		return newError(ReasonTooDeep, start+int64(w.off), "nesting exceeds MaxDepth")
	case stDupName:
		return newError(ReasonDuplicateName, start+int64(w.off), "record member names that decoders may take for one hidden or masked field, or a name with NUL, on a protected path")
	default:
		return newError(ReasonInvalidJSON, start+int64(w.off), "unexpected record syntax")
	}
	w.start, w.end = start, start+int64(len(v))
	if w.n > 0 {
		r.st.Protected++
		if r.out == nil {
			// A write body that sets a protected member: refused.
			w.edits = w.edits[:0]
		}
	}
	return nil
}

// emitProtected appends to the output buffer (w.out) the pending input up
// to the record that protect examined last, then the record with its
// edits applied, and marks the record emitted. The buffer precedes the
// input at r.in.emitted: flushTo writes it first, and it is written
// whenever it holds flushThreshold bytes, so that records are written in
// batches as without edits. It does nothing when there are no edits.
func (r *run) emitProtected() error {
	w := &r.fw
	if len(w.edits) == 0 {
		return nil
	}
	buf := append(w.out, r.in.win[r.in.emitted-r.in.base:w.start-r.in.base]...)
	v := r.in.win[w.start-r.in.base : w.end-r.in.base]
	at := int32(0)
	for _, e := range w.edits {
		buf = append(buf, v[at:e.from]...)
		if e.mask > 0 {
			buf = append(buf, r.p.prot.masks[e.mask-1]...)
		}
		at = e.to
		if len(buf) >= flushThreshold {
			w.out = buf
			if err := r.flushProtected(); err != nil {
				return err
			}
			buf = w.out
		}
	}
	w.out = append(buf, v[at:]...)
	w.edits = w.edits[:0]
	r.in.emitted = w.end
	if cap(w.out) > poolMaxBytes {
		r.big = true
	}
	if len(w.out) >= flushThreshold {
		return r.flushProtected()
	}
	return nil
}

// flushProtected writes the output buffer.
func (r *run) flushProtected() error {
	err := r.writeOut(r.fw.out)
	r.fw.out = r.fw.out[:0]
	return err
}

// writeOut writes b to the output as flushTo writes the input's bytes.
func (r *run) writeOut(b []byte) error {
	if r.in.err != nil {
		return r.ioErr()
	}
	if r.out == nil || len(b) == 0 {
		return nil
	}
	n, err := r.out.Write(b)
	r.st.BytesOut += int64(n)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		r.in.err = &writeError{err}
		return r.ioErr()
	}
	return nil
}
