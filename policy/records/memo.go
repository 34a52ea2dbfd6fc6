package records

import (
	"bytes"
	"io"
)

// Memo bounds: a table of memoSlots decisions per call, two-way set
// associative, keys (the read members' bytes) of at most memoMaxKey bytes. A call that has
// looked up memoProbe records and found fewer than memoMinHits of them
// stops looking (its values hardly repeat; see [Plan.FilterPure]).
const (
	memoSlots   = 256
	memoMaxKey  = 128 // at most 255 (see memoKey)
	memoProbe   = 256
	memoMinHits = 32
)

// outcome is what became of one record.
type outcome uint8

const (
	outHidden  outcome = iota + 1 // predicate false
	outVisible                    // predicate true
	outError                      // predicate error or undecodable field: hidden, counted in Stats.Errors
)

// memo remembers the decisions of one call by the bytes of the members
// the predicate reads. It belongs to a pooled run; gen changes with every
// call, so a decision never outlives the call (the predicate of the next
// call may be another user's).
type memo struct {
	gen     uint32
	key     []byte
	lookups int
	hits    int
	slots   [memoSlots]memoSlot
}

type memoSlot struct {
	gen  uint32
	used int // lookups when last found or stored, to evict the older of two
	out  outcome
	key  []byte
}

func newMemo() memo {
	return memo{key: make([]byte, 0, memoMaxKey)}
}

// begin starts a call that reuses decisions.
func (m *memo) begin() {
	m.lookups, m.hits = 0, 0
	m.gen++
	if m.gen == 0 { // wrapped: forget everything, then start again at 1
		for i := range m.slots {
			m.slots[i].gen = 0
		}
		m.gen = 1
	}
}

// find returns the decision held for key (0 if none) and the slot that
// holds it, or the slot to store it in: one of the two of key's set, the
// one not used in this call or else the one used longer ago.
//
// The hash is fixed, not seeded: keys that collide cost only the
// evaluations a memo would have saved, so there is nothing to defend, and
// a fixed hash keeps the number of evaluations reproducible.
func (m *memo) find(key []byte) (*memoSlot, outcome) {
	m.lookups++
	set := m.slots[fnv1a(key)%(memoSlots/2)*2:][:2]
	for i := range set {
		if s := &set[i]; s.gen == m.gen && sameKey(s.key, key) {
			m.hits++
			s.used = m.lookups
			return s, s.out
		}
	}
	switch {
	case set[0].gen != m.gen:
		return &set[0], 0
	case set[1].gen != m.gen || set[1].used < set[0].used:
		return &set[1], 0
	}
	return &set[0], 0
}

// sameKey is bytes.Equal, without a call for the short keys most
// decisions have.
func sameKey(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) > 16 {
		return bytes.Equal(a, b)
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// fnv1a is the 64-bit FNV-1a hash of b.
func fnv1a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// unprofitable reports, once, that the call's values hardly repeat.
func (m *memo) unprofitable() bool {
	return m.lookups == memoProbe && m.hits < memoMinHits
}

func (m *memo) store(s *memoSlot, key []byte, out outcome) {
	s.gen, s.used, s.out, s.key = m.gen, m.lookups, out, append(s.key[:0], key...)
}

// FilterPure is [Plan.Filter] for a pure predicate: one whose result
// (including whether it is an error) depends only on the values of the
// members the plan names, for the whole call. Records whose named members
// are byte-for-byte the same as an earlier record's then share its
// decision without decoding them or calling pred again; output and Stats
// are those of Filter. When a document's values hardly repeat (fewer than
// 32 of the first 256 records), the call stops looking and runs as Filter.
// A plan that reads all members (nil fields) never reuses decisions.
//
// One difference remains: a record with two different problems (say a
// too-deep read member and, later, a case variant of a read member's name)
// may be refused for the other problem than Filter reports. Both refuse
// the document.
func (p *Plan) FilterPure(dst io.Writer, src io.Reader, pred Predicate) (Stats, error) {
	return p.filter(dst, src, pred, !p.all)
}

// setMemo says whether this call reuses decisions: extract then leaves the
// read members' bytes for a lookup instead of decoding them.
func (r *run) setMemo(on bool) {
	r.x.spansOnly = on
	if on {
		r.memo.begin()
	}
}

// decide returns the outcome of a record that extract found acceptable
// (stOK) or with an undecodable read member (stBadValue), or the status of
// a problem that refuses the document.
func (r *run) decide(v []byte, st status, budget int) (outcome, status) {
	var slot *memoSlot
	var key []byte
	if r.x.spansOnly && st == stOK {
		// memo.key has room for memoMaxKey bytes: memoKey never grows it.
		if key = r.x.memoKey(r.memo.key[:0], v, memoMaxKey); key != nil {
			var out outcome
			if slot, out = r.memo.find(key); out != 0 {
				return out, stOK
			}
			if r.memo.unprofitable() {
				// Decode as Filter does from the next record on.
				r.x.spansOnly = false
			}
		}
		if st = r.x.decode(v, budget); st != stOK && st != stBadValue {
			return 0, st
		}
	}
	out := outError
	if st == stOK {
		switch ok, err := r.pred(r.x.rec); {
		case err != nil:
		case ok:
			out = outVisible
		default:
			out = outHidden
		}
	}
	if slot != nil {
		r.memo.store(slot, key, out)
	}
	return out, stOK
}
