package records

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"
	"unicode/utf8"
)

// The fast path: records are scanned by scanRecord, one pass that
// validates a record as jsontext would and finds the members the plan
// reads, instead of jsontext's ReadValue followed by extract. Whatever
// scanRecord does not accept (invalid JSON, a duplicate or colliding name,
// NUL in a name, a record nested too deep, one too large or cut short)
// makes the run fall back to the jsontext path from that record on, which
// reports exactly what it always reported. So scanRecord must never accept
// what jsontext rejects; it may reject more (that only costs speed). The
// fuzz tests check it against jsontext.

// Statuses of scanRecord besides stOK.
const (
	stShort status = 100 + iota // the bytes end before the record does
	stSlow                      // not accepted: fall back to the jsontext path
)

// nameRef is a member name collected for the duplicate check: its
// unescaped bytes are v[from:to], or x.arena[from:to] when inArena.
type nameRef struct {
	sig      uint64 // equal names have equal sig
	from, to int
	inArena  bool
}

// shapeName is a top-level member name of the last record that
// scanRecord built its shape from: the name's raw string token is
// x.shapeBuf[from:to].
type shapeName struct {
	from, to int
	n        int // to - from
	sig      uint64
	k        int    // match's result
	mask     uint64 // the read fields whose count match increments
	// w0 and w1 are the token's first and last eight bytes (w0 masked
	// with m0 when it is shorter), for comparing without a call.
	w0, w1, m0 uint64
}

// equal reports whether v[i:end] is the name's token (end-i is its
// length, end <= len(v)).
func (sh *shapeName) equal(v []byte, i, end int, buf []byte) bool {
	w := v[i:end]
	switch n := len(w); {
	case n > 8 && n <= 16:
		return binary.LittleEndian.Uint64(w) == sh.w0 && binary.LittleEndian.Uint64(w[n-8:]) == sh.w1
	case n <= 8 && i+8 <= len(v):
		return binary.LittleEndian.Uint64(v[i:])&sh.m0 == sh.w0
	}
	return string(w) == string(buf[sh.from:sh.to])
}

// scanRecord validates the record at the start of v (v[0] == '{'; v may
// hold more bytes after it) with budget nesting levels available, and
// returns its length. On stOK, x.spans holds the read members' value
// bytes (to < 0 for an absent member), for decode or a memo lookup; with a
// plan that reads all members, extract still has to be run on the record.
//
// Records of one response mostly have the same member names in the same
// order. scanRecord remembers the names of the last record it accepted
// (its shape): a name spelled byte for byte as the one at the same
// position there is valid, matches the same read fields and has the same
// signature, so none of that is computed again; and a record whose names
// are exactly the shape's has no duplicate among them. Such a record is
// scanned by scanShaped, which only compares its names; after
// shapeMaxMiss records of a call whose names were not the shape's, it is
// not tried any more in that call.
//
// Before that, a record is tried against the last shaped record's frame:
// its bytes outside the values (see scanFramed).
func (x *extractor) scanRecord(v []byte, budget int) (int, status) {
	if len(x.frame) > 0 {
		n, res := x.scanFramed(v, budget)
		switch res {
		case shapedOK:
			return n, stOK
		case shapedOther:
			// Build another from the next record scanShaped accepts.
			x.frame, x.frameMiss = x.frame[:0], x.frameMiss+1
		}
	}
	if len(x.shape) > 0 && x.shapeMiss < shapeMaxMiss {
		build := len(x.frame) == 0 && x.frameMiss < shapeMaxMiss
		n, res := x.scanShaped(v, budget, build)
		switch res {
		case shapedOK:
			if build {
				x.newFrame(v[:n])
			}
			return n, stOK
		case shapedOther:
			x.shapeMiss++
		}
	}
	return x.scanFull(v, budget)
}

// scanFramed is scanRecord for a record whose bytes outside its values are
// exactly those of the record scanShaped last built the frame from: the
// '{' and the first name, each separator and name, and the '}', with the
// whitespace between them. Its names are then the shape's, so scanShaped
// would accept it if its values are valid; only the values are left to
// validate.
func (x *extractor) scanFramed(v []byte, budget int) (int, int) {
	spans, frame, buf := x.spans, x.frame, x.frameBuf
	for k := range spans {
		spans[k] = span{-1, -1}
	}
	if budget < 1 {
		return 0, shapedNotSure
	}
	i, last := 0, len(frame)-1
	for p := range frame {
		f := &frame[p]
		end := i + f.n
		if end > len(v) {
			return 0, shapedNotSure
		}
		if !f.equal(v, i, end, buf) {
			return 0, shapedOther
		}
		if i = end; p == last {
			return i, shapedOK
		}
		from := i
		vend := 0 // of a plain string or integer (scanValue's fast paths, inlined)
		switch {
		case i >= len(v):
		case v[i] == '"':
			if j := plainEnd(v, i+1); j < len(v) && v[j] == '"' {
				vend = j + 1
			}
		case '0' <= v[i] && v[i] <= '9':
			j := i + 1
			if v[i] != '0' {
				for j < len(v) && '0' <= v[j] && v[j] <= '9' {
					j++
				}
			}
			if j < len(v) && v[j] != '.' && v[j] != 'e' && v[j] != 'E' {
				vend = j
			}
		}
		if vend > 0 {
			i = vend
		} else {
			var st status
			if i, st = x.scanValue(v, i, budget); st != stOK {
				return 0, shapedNotSure
			}
		}
		if f.k >= 0 {
			spans[f.k] = span{from, i}
		}
	}
	return 0, shapedNotSure // an empty frame is never tried
}

// plainEnd returns the offset of the first byte at or after j that is
// '"', '\\', a control character or not ASCII, looking a word at a time; or
// the offset, less than eight bytes before the end of v, where it stopped
// looking.
func plainEnd(v []byte, j int) int {
	for j+8 <= len(v) {
		if m := specialOrCtl(binary.LittleEndian.Uint64(v[j:])); m != 0 {
			return j + bits.TrailingZeros64(m)>>3
		}
		j += 8
	}
	return j
}

// scanValue validates the member value at v[i] (i < len(v) or stShort) in
// a record with budget nesting levels, and returns its end.
func (x *extractor) scanValue(v []byte, i, budget int) (int, status) {
	if i >= len(v) {
		return i, stShort
	}
	switch c := v[i]; {
	case c == '"':
		// Most values are short strings of plain ASCII: find the first
		// byte of interest a word at a time, here; vString takes the
		// others.
		if j := plainEnd(v, i+1); j < len(v) && v[j] == '"' {
			return j + 1, stOK
		}
		i, _, _, st := vString(v, i)
		return i, st
	case '0' <= c && c <= '9':
		return vNumber(v, i)
	}
	return x.vValue(v, i, 1, budget)
}

// newFrame makes the bytes of v, a record that scanShaped just accepted
// with the value bounds in x.vals, outside its values the frame.
func (x *extractor) newFrame(v []byte) {
	x.frame, x.frameBuf = x.frame[:0], x.frameBuf[:0]
	if len(x.vals) != len(x.shape) || len(v) > 4096 {
		return
	}
	at := 0
	for p := 0; p <= len(x.vals); p++ {
		to, k := len(v), -1
		if p < len(x.vals) {
			to, k = x.vals[p].from, x.shape[p].k
		}
		from := len(x.frameBuf)
		x.frameBuf = append(x.frameBuf, v[at:to]...)
		x.frame = append(x.frame, token(x.frameBuf, from, k))
		if p < len(x.vals) {
			at = x.vals[p].to
		}
	}
}

// token describes buf[from:] for shapeName.equal.
func token(buf []byte, from, k int) shapeName {
	sh := shapeName{from: from, to: len(buf), n: len(buf) - from, k: k}
	tok := buf[from:]
	var w [8]byte
	copy(w[:], tok)
	sh.w0, sh.m0 = binary.LittleEndian.Uint64(w[:]), ^uint64(0)
	if len(tok) < 8 {
		sh.m0 = 1<<(8*len(tok)) - 1
	} else {
		sh.w1 = binary.LittleEndian.Uint64(tok[len(tok)-8:])
	}
	return sh
}

// shapeMaxMiss bounds the records per call that scanShaped examines in
// vain, each of which costs up to a second look.
const shapeMaxMiss = 64

// Results of scanShaped.
const (
	shapedOK      = iota
	shapedOther   // the names are not the shape's
	shapedNotSure // anything else: scanFull decides
)

// scanShaped is scanRecord for a record whose member names are exactly the
// shape's, in the same order: it compares them and validates the values.
// Such names are valid, match the read fields that the shape says, and
// neither repeat nor collide (the shape is only built from a record that
// passed all of that), so nothing else has to be checked about them.
func (x *extractor) scanShaped(v []byte, budget int, build bool) (int, int) {
	for k := range x.spans {
		x.spans[k] = span{-1, -1}
	}
	x.vals = x.vals[:0]
	i := ws(v, 1)
	if budget < 1 || i >= len(v) {
		return 0, shapedNotSure
	}
	for p := range x.shape {
		sh := &x.shape[p]
		end := i + sh.n
		if end > len(v) {
			return 0, shapedNotSure
		}
		if !sh.equal(v, i, end, x.shapeBuf) {
			return 0, shapedOther
		}
		if i = ws(v, end); i >= len(v) || v[i] != ':' {
			return 0, shapedNotSure
		}
		if i = ws(v, i+1); i >= len(v) {
			return 0, shapedNotSure
		}
		from := i
		var st status
		if i, st = x.scanValue(v, i, budget); st != stOK {
			return 0, shapedNotSure
		}
		if sh.k >= 0 {
			x.spans[sh.k] = span{from, i}
		}
		if build {
			x.vals = append(x.vals, span{from, i})
		}
		if i = ws(v, i); i >= len(v) {
			return 0, shapedNotSure
		}
		switch {
		case p == len(x.shape)-1 && v[i] == '}':
			return i + 1, shapedOK
		case p == len(x.shape)-1 && v[i] == ',':
			return 0, shapedOther // more names than the shape
		case v[i] == '}':
			return 0, shapedOther // fewer
		case v[i] != ',':
			return 0, shapedNotSure
		}
		if i = ws(v, i+1); i >= len(v) {
			return 0, shapedNotSure
		}
	}
	return 0, shapedNotSure // an empty shape is never tried
}

// scanFull is scanRecord for any record.
func (x *extractor) scanFull(v []byte, budget int) (int, status) {
	clear(x.counts)
	for k := range x.spans {
		x.spans[k] = span{-1, -1}
	}
	x.names = x.names[:0]
	x.arena = x.arena[:0]
	x.topK = x.topK[:0]
	if budget < 1 {
		return 0, stSlow
	}
	i := ws(v, 1)
	if i >= len(v) {
		return 0, stShort
	}
	if v[i] == '}' {
		return i + 1, stOK
	}
	same := len(x.shape) > 0 // the names so far are the shape's
	for p := 0; ; p++ {
		if v[i] != '"' {
			return 0, stSlow
		}
		k := -1
		var end int
		if same && p < len(x.shape) {
			sh := &x.shape[p]
			if end = i + sh.n; end <= len(v) && sh.equal(v, i, end, x.shapeBuf) {
				x.names = append(x.names, nameRef{sig: sh.sig, from: i + 1, to: end - 1})
				for m := sh.mask; m != 0; m &= m - 1 {
					f := bits.TrailingZeros64(m)
					if x.counts[f]++; x.counts[f] > 1 {
						return 0, stSlow
					}
				}
				k = sh.k
				goto value
			}
		}
		same = false
		{
			var esc, nonASCII bool
			var st status
			if end, esc, nonASCII, st = vString(v, i); st != stOK {
				return 0, st
			}
			name := v[i+1 : end-1]
			if esc {
				from := len(x.arena)
				x.arena = appendUnescaped(x.arena, name)
				name = x.arena[from:]
				if bytes.IndexByte(name, 0) >= 0 {
					return 0, stSlow // NUL: the jsontext path reports it
				}
				nonASCII = !isASCII(name)
				x.names = append(x.names, nameRef{sig: nameSig(name), from: from, to: len(x.arena), inArena: true})
			} else {
				x.names = append(x.names, nameRef{sig: nameSig(name), from: i + 1, to: end - 1})
			}
			if !x.p.all && (nonASCII || x.p.mayMatch(len(name))) {
				if k = x.match(name, !nonASCII); k == -2 {
					return 0, stSlow
				}
			}
		}
	value:
		x.topK = append(x.topK, k)
		if i = ws(v, end); i >= len(v) {
			return 0, stShort
		}
		if v[i] != ':' {
			return 0, stSlow
		}
		if i = ws(v, i+1); i >= len(v) {
			return 0, stShort
		}
		from := i
		var st status
		switch c := v[i]; {
		case c == '"': // the common cases without vValue's dispatch
			i, _, _, st = vString(v, i)
		case '0' <= c && c <= '9':
			i, st = vNumber(v, i)
		default:
			i, st = x.vValue(v, i, 1, budget)
		}
		if st != stOK {
			return 0, st
		}
		if k >= 0 {
			x.spans[k] = span{from, i}
		}
		if i = ws(v, i); i >= len(v) {
			return 0, stShort
		}
		if v[i] == ',' {
			if i = ws(v, i+1); i >= len(v) {
				return 0, stShort
			}
			continue
		}
		if v[i] != '}' {
			return 0, stSlow
		}
		break
	}
	if same && len(x.names) == len(x.shape) {
		return i + 1, stOK
	}
	if x.dupNames(v, 0) {
		return 0, stSlow
	}
	x.newShape(v)
	return i + 1, stOK
}

// newShape makes the names of the record just accepted the shape, up to
// the first name with an escape.
func (x *extractor) newShape(v []byte) {
	x.shape, x.shapeBuf = x.shape[:0], x.shapeBuf[:0]
	x.frame, x.frameBuf = x.frame[:0], x.frameBuf[:0] // the old shape's
	if x.p.all || len(x.p.fields) > 64 {
		return
	}
	for p, n := range x.names {
		if n.inArena || len(x.shapeBuf) > 4096 {
			return
		}
		from := len(x.shapeBuf)
		x.shapeBuf = append(x.shapeBuf, v[n.from-1:n.to+1]...) // with the quotes
		sh := token(x.shapeBuf, from, x.topK[p])
		sh.sig, sh.mask = n.sig, x.foldMask(v[n.from:n.to])
		x.shape = append(x.shape, sh)
	}
}

// foldMask returns the read fields whose count match increments for an
// unescaped name: those equal to it or colliding with it.
func (x *extractor) foldMask(name []byte) uint64 {
	nameASCII := isASCII(name)
	if nameASCII && !x.p.mayMatch(len(name)) { // as scanRecord skips match
		return 0
	}
	var mask uint64
	var key []byte
	for k, f := range x.p.fieldBytes {
		switch {
		case bytes.Equal(name, f):
		case nameASCII && x.p.fieldASCII[k]:
			if len(name) != len(f) || !bytes.EqualFold(name, f) {
				continue
			}
		default:
			if key == nil {
				key = appendCaseKey(nil, name)
			}
			if !bytes.Equal(key, x.p.fieldKeys[k]) {
				continue
			}
		}
		mask |= 1 << k
	}
	return mask
}

// vValue validates the value at v[i] (i < len(v)), inside a container at
// depth depth, and returns the offset after it.
func (x *extractor) vValue(v []byte, i, depth, budget int) (int, status) {
	switch c := v[i]; c {
	case '"':
		end, _, _, st := vString(v, i)
		return end, st
	case '{':
		return x.vObject(v, i, depth+1, budget)
	case '[':
		return x.vArray(v, i, depth+1, budget)
	case 't':
		return vLiteral(v, i, "true")
	case 'f':
		return vLiteral(v, i, "false")
	case 'n':
		return vLiteral(v, i, "null")
	default:
		if c == '-' || '0' <= c && c <= '9' {
			return vNumber(v, i)
		}
	}
	return i, stSlow
}

// vObject validates the object at v[i] == '{', at depth depth.
func (x *extractor) vObject(v []byte, i, depth, budget int) (int, status) {
	if depth > budget {
		return i, stSlow
	}
	base := len(x.names)
	if i = ws(v, i+1); i >= len(v) {
		return i, stShort
	}
	if v[i] == '}' {
		return i + 1, stOK
	}
	for {
		if v[i] != '"' {
			return i, stSlow
		}
		end, esc, _, st := vString(v, i)
		if st != stOK {
			return i, st
		}
		name := v[i+1 : end-1]
		if esc {
			from := len(x.arena)
			x.arena = appendUnescaped(x.arena, name)
			x.names = append(x.names, nameRef{sig: nameSig(x.arena[from:]), from: from, to: len(x.arena), inArena: true})
		} else {
			x.names = append(x.names, nameRef{sig: nameSig(name), from: i + 1, to: end - 1})
		}
		if i = ws(v, end); i >= len(v) {
			return i, stShort
		}
		if v[i] != ':' {
			return i, stSlow
		}
		if i = ws(v, i+1); i >= len(v) {
			return i, stShort
		}
		if i, st = x.vValue(v, i, depth, budget); st != stOK {
			return i, st
		}
		if i = ws(v, i); i >= len(v) {
			return i, stShort
		}
		if v[i] == ',' {
			if i = ws(v, i+1); i >= len(v) {
				return i, stShort
			}
			continue
		}
		if v[i] != '}' {
			return i, stSlow
		}
		break
	}
	if x.dupNames(v, base) {
		return i, stSlow
	}
	x.names = x.names[:base]
	return i + 1, stOK
}

// vArray validates the array at v[i] == '[', at depth depth.
func (x *extractor) vArray(v []byte, i, depth, budget int) (int, status) {
	if depth > budget {
		return i, stSlow
	}
	if i = ws(v, i+1); i >= len(v) {
		return i, stShort
	}
	if v[i] == ']' {
		return i + 1, stOK
	}
	for {
		var st status
		if i, st = x.vValue(v, i, depth, budget); st != stOK {
			return i, st
		}
		if i = ws(v, i); i >= len(v) {
			return i, stShort
		}
		if v[i] == ',' {
			if i = ws(v, i+1); i >= len(v) {
				return i, stShort
			}
			continue
		}
		if v[i] != ']' {
			return i, stSlow
		}
		return i + 1, stOK
	}
}

// dupNames reports whether two of x.names[base:] are equal. A 256-bit
// filter on the names' signatures spares comparing most pairs; large
// objects are sorted instead, so that colliding signatures cannot make the
// check quadratic.
func (x *extractor) dupNames(v []byte, base int) bool {
	names := x.names[base:]
	if len(names) < 2 {
		return false
	}
	get := func(n nameRef) []byte {
		if n.inArena {
			return x.arena[n.from:n.to]
		}
		return v[n.from:n.to]
	}
	if len(names) <= 32 {
		var seen [4]uint64
		for a, na := range names {
			h := (na.sig * 0x9e3779b97f4a7c15) >> 56
			if seen[h>>6]&(1<<(h&63)) == 0 {
				seen[h>>6] |= 1 << (h & 63)
				continue
			}
			for _, nb := range names[:a] {
				if na.sig == nb.sig && bytes.Equal(get(na), get(nb)) {
					return true
				}
			}
		}
		return false
	}
	slices.SortFunc(names, func(a, b nameRef) int { return bytes.Compare(get(a), get(b)) })
	for k := 1; k < len(names); k++ {
		if bytes.Equal(get(names[k-1]), get(names[k])) {
			return true
		}
	}
	return false
}

// nameSig mixes the length of a name with its first and last eight bytes:
// equal names have equal signatures.
func nameSig(b []byte) uint64 {
	n := len(b)
	if n >= 8 {
		return binary.LittleEndian.Uint64(b) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(b[n-8:]), 29) ^ uint64(n)<<58
	}
	var w uint64
	for _, c := range b {
		w = w<<8 | uint64(c)
	}
	return w ^ uint64(n)<<58
}

// vString validates the JSON string at v[i] == '"' as jsontext does
// (no control characters, valid escapes, surrogate escapes in valid pairs,
// valid UTF-8) and returns the offset after it, whether it has escapes and
// whether it has non-ASCII bytes.
func vString(v []byte, i int) (end int, esc, nonASCII bool, st status) {
	j := i + 1
	for {
		if j+8 <= len(v) {
			m := specialOrCtl(binary.LittleEndian.Uint64(v[j:]))
			if m == 0 {
				j += 8
				continue
			}
			j += bits.TrailingZeros64(m) >> 3
		} else if j >= len(v) {
			return j, esc, nonASCII, stShort
		}
		switch c := v[j]; {
		case c == '"':
			return j + 1, esc, nonASCII, stOK
		case c == '\\':
			esc = true
			if j+1 >= len(v) {
				return j, esc, nonASCII, stShort
			}
			switch v[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(v) {
					return j, esc, nonASCII, stShort
				}
				r, ok := hex4(v[j+2 : j+6])
				if !ok {
					return j, esc, nonASCII, stSlow
				}
				j += 6
				if r < 0xd800 || r > 0xdfff {
					continue
				}
				// A surrogate: a high one followed by an escaped low one.
				if r > 0xdbff {
					return j, esc, nonASCII, stSlow
				}
				if j+6 > len(v) {
					return j, esc, nonASCII, stShort
				}
				r2, ok := hex4(v[j+2 : j+6])
				if v[j] != '\\' || v[j+1] != 'u' || !ok || r2 < 0xdc00 || r2 > 0xdfff {
					return j, esc, nonASCII, stSlow
				}
				j += 6
			default:
				return j, esc, nonASCII, stSlow
			}
		case c < ' ':
			return j, esc, nonASCII, stSlow
		case c >= utf8.RuneSelf:
			nonASCII = true
			r, n := utf8.DecodeRune(v[j:])
			if r == utf8.RuneError && n == 1 {
				if !utf8.FullRune(v[j:]) {
					return j, esc, nonASCII, stShort
				}
				return j, esc, nonASCII, stSlow
			}
			j += n
		default:
			j++ // a false positive of the bit trick
		}
	}
}

// specialOrCtl flags (in the high bit of each byte) the bytes of w that
// are '"', '\\', control characters or non-ASCII. The lowest flagged byte
// is exact: the tricks' false positives only occur above a true match.
func specialOrCtl(w uint64) uint64 {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	q := w ^ (lsb * '"')
	b := w ^ (lsb * '\\')
	// (w-lsb*' ')&^w | w, the control characters and the non-ASCII
	// bytes, is (w-lsb*' ') | w.
	return ((q-lsb)&^q | (b-lsb)&^b | (w - lsb*' ') | w) & msb
}

func hex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// vLiteral validates true, false or null at v[i].
func vLiteral(v []byte, i int, lit string) (int, status) {
	n := min(len(lit), len(v)-i)
	if string(v[i:i+n]) != lit[:n] {
		return i, stSlow
	}
	if n < len(lit) {
		return i, stShort
	}
	return i + n, stOK
}

// vNumber validates the number at v[i] (a '-' or a digit) by JSON's
// grammar and returns the offset after it. Running into the end of v is
// stShort: the number may go on.
func vNumber(v []byte, i int) (int, status) {
	j := i
	if v[j] == '-' {
		j++
	}
	if j >= len(v) {
		return j, stShort
	}
	switch c := v[j]; {
	case c == '0':
		j++
	case '1' <= c && c <= '9':
		j = digits(v, j+1)
	default:
		return j, stSlow
	}
	if j >= len(v) {
		return j, stShort
	}
	if v[j] == '.' {
		if j++; j >= len(v) {
			return j, stShort
		}
		if v[j] < '0' || v[j] > '9' {
			return j, stSlow
		}
		if j = digits(v, j); j >= len(v) {
			return j, stShort
		}
	}
	if v[j] == 'e' || v[j] == 'E' {
		if j++; j >= len(v) {
			return j, stShort
		}
		if v[j] == '+' || v[j] == '-' {
			if j++; j >= len(v) {
				return j, stShort
			}
		}
		if v[j] < '0' || v[j] > '9' {
			return j, stSlow
		}
		if j = digits(v, j); j >= len(v) {
			return j, stShort
		}
	}
	return j, stOK
}

func digits(v []byte, j int) int {
	for j < len(v) && '0' <= v[j] && v[j] <= '9' {
		j++
	}
	return j
}

// appendUnescaped appends the unescaped form of the contents s of a JSON
// string that vString accepted.
func appendUnescaped(dst, s []byte) []byte {
	for j := 0; j < len(s); {
		c := s[j]
		if c != '\\' {
			dst = append(dst, c)
			j++
			continue
		}
		switch s[j+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(s[j+2 : j+6])
			if 0xd800 <= r && r <= 0xdbff {
				r2, _ := hex4(s[j+8 : j+12])
				r = (r-0xd800)<<10 | (r2 - 0xdc00) + 0x10000
				j += 6
			}
			dst = utf8.AppendRune(dst, r)
			j += 6
			continue
		default: // '"', '\\', '/'
			dst = append(dst, s[j+1])
		}
		j += 2
	}
	return dst
}

// ws is skipWS for the common case of no whitespace.
func ws(v []byte, i int) int {
	if i < len(v) && v[i] > ' ' {
		return i
	}
	return skipWS(v, i)
}
