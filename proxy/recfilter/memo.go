package recfilter

import (
	"bytes"
	"hash/maphash"
	"io"
)

// Memo bounds: a direct-mapped table of memoSlots decisions per call, keys
// (the read members' bytes) of at most memoMaxKey bytes. A call that has
// looked up memoProbe records and found fewer than memoMinHits of them
// stops looking (its values hardly repeat; see [Plan.FilterPure]).
const (
	memoSlots   = 256
	memoMaxKey  = 128
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
	seed    maphash.Seed
	key     []byte
	lookups int
	hits    int
	slots   [memoSlots]memoSlot
}

type memoSlot struct {
	gen uint32
	out outcome
	key []byte
}

func newMemo() memo {
	return memo{seed: maphash.MakeSeed(), key: make([]byte, 0, memoMaxKey)}
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

// find returns the slot of key and the decision it holds for key (0 if
// none).
func (m *memo) find(key []byte) (*memoSlot, outcome) {
	s := &m.slots[maphash.Bytes(m.seed, key)&(memoSlots-1)]
	m.lookups++
	if s.gen == m.gen && bytes.Equal(s.key, key) {
		m.hits++
		return s, s.out
	}
	return s, 0
}

// unprofitable reports, once, that the call's values hardly repeat.
func (m *memo) unprofitable() bool {
	return m.lookups == memoProbe && m.hits < memoMinHits
}

func (m *memo) store(s *memoSlot, key []byte, out outcome) {
	s.gen, s.out, s.key = m.gen, out, append(s.key[:0], key...)
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
