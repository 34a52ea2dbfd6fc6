package records

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// status is the outcome of examining one record's raw bytes.
type status uint8

const (
	stOK        status = iota
	stBadValue         // a read field cannot be decoded faithfully: record not visible
	stTooDeep          // nesting exceeds the depth budget: fail closed
	stDupName          // case-insensitive duplicate among read fields: fail closed
	stMalformed        // bytes not as jsontext validated them (should not happen)
)

// maxExactFloat is 2^53: from there on, distinct integers share a float64.
const maxExactFloat = 1 << 53

// Caps of the per-call intern caches (see extractor).
const (
	internMaxEntries = 512
	internMaxLen     = 64
)

// extractor walks the raw bytes of one record, already validated by
// jsontext (syntax, UTF-8, exact duplicate names), to enforce the depth
// limit and the case-insensitive duplicate rule and to decode the fields the
// plan reads into rec. It never needs to handle invalid JSON, but it checks
// bounds everywhere and reports stMalformed instead of panicking.
type extractor struct {
	p       *Plan
	rec     map[string]any
	counts  []int    // per read field: members whose name folds to it
	keys    []string // stack of decoded member names, for fold checks
	scratch []byte   // unescaped strings
	keyBuf  []byte   // a member name's case key
	// Intern caches: repeated short strings and numbers (department names,
	// levels, ...) are boxed once per cache generation instead of once per
	// record. Only immutable values are shared.
	strs map[string]any
	nums map[uint64]any
	// recent is a direct-mapped cache in front of strs, cheaper than
	// hashing for the hottest values.
	recent [64]struct {
		s string
		v any
	}
	off int // offset in the record of the problem, for errors
	// spansOnly: extract validates and finds the read members but does
	// not decode them; their value bytes are left in spans (v[from:to],
	// to < 0 when absent) for a memo lookup, and decode decodes them.
	spansOnly bool
	spans     []span
	// names and arena: member names for scanRecord's duplicate check.
	names []nameRef
	arena []byte
	// topK, shape, shapeBuf and shapeMiss, frame, frameBuf, frameMiss and
	// vals: see scanRecord.
	topK      []int
	shape     []shapeName
	shapeBuf  []byte
	shapeMiss int // records of this call whose names were not the shape's
	// frame is the shaped record's bytes outside its values, a token per
	// value (the bytes before it, k its read field) and the closing one.
	frame     []shapeName
	frameBuf  []byte
	frameMiss int    // frames of this call that a record did not match
	vals      []span // the value bounds of the record scanShaped scans
}

type span struct{ from, to int }

func (x *extractor) init(p *Plan) {
	x.p = p
	x.rec = make(map[string]any, max(len(p.fields), 8))
	x.counts = make([]int, len(p.fields))
	x.spans = make([]span, len(p.fields))
	x.strs = make(map[string]any)
	x.nums = make(map[uint64]any)
}

// extract examines record v (a JSON object, no surrounding whitespace) with
// budget nesting levels available to it (the record object itself uses one).
func (x *extractor) extract(v []byte, budget int) status {
	clear(x.rec)
	clear(x.counts)
	if x.spansOnly {
		for k := range x.spans {
			x.spans[k] = span{-1, -1}
		}
	}
	x.keys = x.keys[:0]
	x.off = 0
	if budget < 1 {
		return stTooDeep
	}
	if len(v) < 2 || v[0] != '{' {
		return stMalformed
	}
	i := skipWS(v, 1)
	if i < len(v) && v[i] == '}' {
		return stOK
	}
	bad := false
	for {
		if i >= len(v) || v[i] != '"' {
			return x.malformed(i)
		}
		end, esc, nonASCII := scanString(v, i)
		if end < 0 {
			return x.malformed(i)
		}
		name := v[i+1 : end-1]
		if esc {
			var err error
			if x.scratch, err = jsontext.AppendUnquote(x.scratch[:0], v[i:end]); err != nil {
				return x.malformed(i)
			}
			name = x.scratch
			nonASCII = !isASCII(name)
			if bytes.IndexByte(name, 0) >= 0 { // only an escape can hold NUL
				x.off = i
				return stDupName
			}
		}
		nameAt := i
		i = skipWS(v, end)
		if i >= len(v) || v[i] != ':' {
			return x.malformed(i)
		}
		i = skipWS(v, i+1)
		var key string
		want := false
		k := -1
		if x.p.all {
			key = x.internKey(name)
			want = true
			x.keys = append(x.keys, key)
		} else {
			if nonASCII || x.p.mayMatch(len(name)) {
				k = x.match(name, !nonASCII)
			}
			if k == -2 {
				x.off = nameAt
				return stDupName
			}
			if k >= 0 {
				key, want = x.p.fields[k], true
			}
		}
		var st status
		if want && x.spansOnly && k >= 0 {
			from := i
			if i, st = x.skip(v, i, 1, budget); st == stOK {
				x.spans[k] = span{from, i}
			}
		} else if want {
			var val any
			val, i, st = x.value(v, i, 1, budget)
			if st == stOK {
				x.rec[key] = val
			}
		} else if i < len(v) && v[i] == '"' {
			if i, _, _ = scanString(v, i); i < 0 {
				return x.malformed(len(v))
			}
		} else {
			i, st = x.skip(v, i, 1, budget)
		}
		switch st {
		case stOK:
		case stBadValue:
			bad = true
		default:
			return st
		}
		i = skipWS(v, i)
		if i >= len(v) {
			return x.malformed(i)
		}
		if v[i] == ',' {
			i = skipWS(v, i+1)
			continue
		}
		if v[i] != '}' {
			return x.malformed(i)
		}
		break
	}
	if x.p.all && foldDup(x.keys) {
		return stDupName
	}
	if bad {
		return stBadValue
	}
	return stOK
}

// decode decodes the read members whose bytes extract (with spansOnly)
// left in spans, as extract without spansOnly would have: same values,
// same status.
func (x *extractor) decode(v []byte, budget int) status {
	bad := false
	for k, sp := range x.spans {
		if sp.to < 0 {
			delete(x.rec, x.p.fields[k]) // left by an earlier record
			continue
		}
		val, _, st := x.value(v, sp.from, 1, budget)
		switch st {
		case stOK:
			x.rec[x.p.fields[k]] = val
		case stBadValue:
			bad = true
		default:
			return st
		}
	}
	if bad {
		return stBadValue
	}
	return stOK
}

// memoKey appends to dst the identity of the record's read members: for
// each, in plan order, one byte (0 when it is absent, else its length plus
// one) and its exact bytes. It returns nil when the key would be longer
// than limit (at most 255, so that every length fits in its byte).
//
// With one read member the key is its bytes in v, not a copy, or empty
// when it is absent: a JSON value is never empty.
func (x *extractor) memoKey(dst, v []byte, limit int) []byte {
	if len(x.spans) == 1 {
		switch sp := x.spans[0]; {
		case sp.to < 0:
			return dst[:0]
		case sp.to-sp.from > limit:
			return nil
		default:
			return v[sp.from:sp.to]
		}
	}
	for _, sp := range x.spans {
		n := 0
		if sp.to >= 0 {
			n = sp.to - sp.from
		}
		if len(dst)+1+n > limit {
			return nil
		}
		if sp.to < 0 {
			dst = append(dst, 0)
			continue
		}
		dst = append(dst, byte(n+1))
		dst = append(dst, v[sp.from:sp.to]...)
	}
	return dst
}

func (x *extractor) malformed(i int) status {
	x.off = i
	return stMalformed
}

// match returns the index of the read field equal to name, -1 if none, or
// -2 when name makes two members collide with the same read field (see
// appendCaseKey).
func (x *extractor) match(name []byte, nameASCII bool) int {
	exact := -1
	var key []byte // name's case key, once needed
	for k, f := range x.p.fieldBytes {
		switch {
		case bytes.Equal(name, f):
			exact = k
		case nameASCII && x.p.fieldASCII[k]:
			// ASCII names collide only with ASCII names of the same
			// length, ignoring ASCII case.
			if len(name) != len(f) || !bytes.EqualFold(name, f) {
				continue
			}
		default:
			if key == nil {
				x.keyBuf = appendCaseKey(x.keyBuf[:0], name)
				key = x.keyBuf
			}
			if !bytes.Equal(key, x.p.fieldKeys[k]) {
				continue
			}
		}
		x.counts[k]++
		if x.counts[k] > 1 {
			return -2
		}
	}
	return exact
}

// value decodes the JSON value at v[i:], inside a container at depth depth.
func (x *extractor) value(v []byte, i, depth, budget int) (any, int, status) {
	if i >= len(v) {
		return nil, i, x.malformed(i)
	}
	switch v[i] {
	case '"':
		end, esc, _ := scanString(v, i)
		if end < 0 {
			return nil, i, x.malformed(i)
		}
		s := v[i+1 : end-1]
		if esc {
			var err error
			if x.scratch, err = jsontext.AppendUnquote(x.scratch[:0], v[i:end]); err != nil {
				return nil, i, x.malformed(i)
			}
			s = x.scratch
		}
		return x.internString(s), end, stOK
	case 't':
		return true, i + len("true"), stOK
	case 'f':
		return false, i + len("false"), stOK
	case 'n':
		return nil, i + len("null"), stOK
	case '{':
		return x.object(v, i, depth+1, budget)
	case '[':
		return x.array(v, i, depth+1, budget)
	}
	j := i
	for j < len(v) && isNumberByte(v[j]) {
		j++
	}
	if j == i {
		return nil, i, x.malformed(i)
	}
	f, err := strconv.ParseFloat(string(v[i:j]), 64)
	if err != nil || math.Abs(f) >= maxExactFloat {
		x.off = i
		return nil, j, stBadValue
	}
	return x.internNumber(f), j, stOK
}

func (x *extractor) object(v []byte, i, depth, budget int) (any, int, status) {
	if depth > budget {
		x.off = i
		return nil, i, stTooDeep
	}
	m := make(map[string]any)
	i = skipWS(v, i+1)
	if i < len(v) && v[i] == '}' {
		return m, i + 1, stOK
	}
	base := len(x.keys)
	bad := false
	for {
		if i >= len(v) || v[i] != '"' {
			return nil, i, x.malformed(i)
		}
		end, esc, _ := scanString(v, i)
		if end < 0 {
			return nil, i, x.malformed(i)
		}
		name := v[i+1 : end-1]
		if esc {
			var err error
			if x.scratch, err = jsontext.AppendUnquote(x.scratch[:0], v[i:end]); err != nil {
				return nil, i, x.malformed(i)
			}
			name = x.scratch
			if bytes.IndexByte(name, 0) >= 0 {
				x.off = i
				return nil, i, stDupName
			}
		}
		key := x.internKey(name)
		x.keys = append(x.keys, key)
		i = skipWS(v, end)
		if i >= len(v) || v[i] != ':' {
			return nil, i, x.malformed(i)
		}
		var val any
		var st status
		val, i, st = x.value(v, skipWS(v, i+1), depth, budget)
		switch st {
		case stOK:
			m[key] = val
		case stBadValue:
			bad = true
		default:
			return nil, i, st
		}
		var more bool
		if i, more, st = x.next(v, i, '}'); st != stOK {
			return nil, i, st
		}
		if !more {
			break
		}
	}
	dup := foldDup(x.keys[base:])
	x.keys = x.keys[:base]
	switch {
	case dup:
		x.off = i
		return nil, i, stDupName
	case bad:
		return nil, i + 1, stBadValue
	}
	return m, i + 1, stOK
}

// next consumes what follows a member or an element: "," and the
// whitespace after it (more = true), or closer (more = false, i at the
// closer); anything else is malformed.
func (x *extractor) next(v []byte, i int, closer byte) (int, bool, status) {
	i = skipWS(v, i)
	switch {
	case i >= len(v):
		return i, false, x.malformed(i)
	case v[i] == ',':
		return skipWS(v, i+1), true, stOK
	case v[i] != closer:
		return i, false, x.malformed(i)
	}
	return i, false, stOK
}

func (x *extractor) array(v []byte, i, depth, budget int) (any, int, status) {
	if depth > budget {
		x.off = i
		return nil, i, stTooDeep
	}
	a := []any{}
	i = skipWS(v, i+1)
	if i < len(v) && v[i] == ']' {
		return a, i + 1, stOK
	}
	bad := false
	for {
		var val any
		var st status
		val, i, st = x.value(v, i, depth, budget)
		switch st {
		case stOK:
			a = append(a, val)
		case stBadValue:
			bad = true
		default:
			return nil, i, st
		}
		var more bool
		if i, more, st = x.next(v, i, ']'); st != stOK {
			return nil, i, st
		}
		if !more {
			break
		}
	}
	if bad {
		return nil, i + 1, stBadValue
	}
	return a, i + 1, stOK
}

// skip returns the offset after the JSON value at v[i:] without decoding
// it, checking only its nesting depth.
func (x *extractor) skip(v []byte, i, depth, budget int) (int, status) {
	if i >= len(v) {
		return i, x.malformed(i)
	}
	switch v[i] {
	case '"':
		end, _, _ := scanString(v, i)
		if end < 0 {
			return i, x.malformed(i)
		}
		return end, stOK
	case '{', '[':
		d := depth + 1
		if d > budget {
			x.off = i
			return i, stTooDeep
		}
		for j := i + 1; j < len(v); {
			switch v[j] {
			case '"':
				end, _, _ := scanString(v, j)
				if end < 0 {
					return j, x.malformed(j)
				}
				j = end
				continue
			case '{', '[':
				d++
				if d > budget {
					x.off = j
					return j, stTooDeep
				}
			case '}', ']':
				d--
				if d == depth {
					return j + 1, stOK
				}
			}
			j++
		}
		return len(v), x.malformed(len(v))
	}
	j := i
	for j < len(v) && !isDelim(v[j]) {
		j++
	}
	return j, stOK
}

func (x *extractor) internString(b []byte) any {
	if len(b) == 0 {
		return "" // boxing the empty string does not allocate
	}
	slot := &x.recent[(len(b)*7+int(b[0])+int(b[len(b)-1])*3)&63]
	if slot.s == string(b) && slot.v != nil {
		return slot.v
	}
	v, ok := x.strs[string(b)]
	if !ok {
		v = string(b)
		x.remember(b, v)
	}
	slot.s, slot.v = v.(string), v
	return v
}

func (x *extractor) internKey(b []byte) string {
	if v, ok := x.strs[string(b)]; ok {
		return v.(string)
	}
	s := string(b)
	x.remember(b, s)
	return s
}

func (x *extractor) remember(b []byte, v any) {
	if len(b) > internMaxLen {
		return
	}
	if len(x.strs) >= internMaxEntries {
		clear(x.strs) // start a new generation
	}
	x.strs[v.(string)] = v
}

func (x *extractor) internNumber(f float64) any {
	bits := math.Float64bits(f)
	if v, ok := x.nums[bits]; ok {
		return v
	}
	var v any = f
	if len(x.nums) >= internMaxEntries {
		clear(x.nums)
	}
	x.nums[bits] = v
	return v
}

// scanString returns the offset just past the JSON string starting at
// v[i] == '"' (or -1 if it is unterminated), whether the string contains
// escapes and whether it contains non-ASCII bytes. It examines eight bytes
// at a time.
func scanString(v []byte, i int) (end int, esc, nonASCII bool) {
	j := i + 1
	for {
		if j+8 <= len(v) {
			m := special(binary.LittleEndian.Uint64(v[j:]))
			if m == 0 {
				j += 8
				continue
			}
			// The lowest flagged byte is exact (false positives of the
			// trick only occur above a true match).
			j += bits.TrailingZeros64(m) >> 3
		} else if j >= len(v) {
			return -1, esc, nonASCII
		}
		switch c := v[j]; {
		case c == '"':
			return j + 1, esc, nonASCII
		case c == '\\':
			esc = true
			j += 2
		case c >= utf8.RuneSelf:
			nonASCII = true
			j++
		default:
			j++
		}
	}
}

// special reports (as a non-zero value) whether one of the eight bytes of w
// is '"', '\\' or non-ASCII, using the "has zero byte" bit trick.
func special(w uint64) uint64 {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	q := w ^ (lsb * '"')
	b := w ^ (lsb * '\\')
	return ((q-lsb)&^q | (b-lsb)&^b | w) & msb
}

func skipWS(v []byte, i int) int {
	for i < len(v) {
		switch v[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func isDelim(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

func isNumberByte(c byte) bool {
	return '0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// foldDup reports whether two of the (distinct) names collide: whether
// some JSON decoder may take them for the same name (see appendCaseKey).
func foldDup(names []string) bool {
	if len(names) < 2 {
		return false
	}
	if len(names) <= 16 {
		for a := 1; a < len(names); a++ {
			for b := 0; b < a; b++ {
				if foldEqual(names[a], names[b]) {
					return true
				}
			}
		}
		return false
	}
	seen := make(map[string]struct{}, len(names))
	var buf []byte
	for _, n := range names {
		buf = appendCaseKey(buf[:0], n)
		if _, ok := seen[string(buf)]; ok {
			return true
		}
		seen[string(buf)] = struct{}{}
	}
	return false
}

// foldEqual reports whether names a and b collide (see appendCaseKey).
func foldEqual(a, b string) bool {
	if isASCII(a) && isASCII(b) {
		return len(a) == len(b) && strings.EqualFold(a, b)
	}
	return string(appendCaseKey(nil, a)) == string(appendCaseKey(nil, b))
}

// appendCaseKey appends the case key of name s: two names have the same
// key when any of the case-insensitive comparisons JSON decoders use takes
// them for one name. These are Unicode simple case folding
// (strings.EqualFold, Go's encoding/json), upper-casing each character
// (.NET's OrdinalIgnoreCase, used by Newtonsoft.Json and System.Text.Json),
// lower-casing it, and Java's String.equalsIgnoreCase (upper case, then the
// lower case of that; Jackson's case-insensitive properties). So "k" and
// U+212A KELVIN SIGN share a key, and so do "I", "i", U+0131 DOTLESS I and
// U+0130 CAPITAL I WITH DOT ABOVE. Each rune r is replaced by the smallest
// rune of the simple-folding orbit of ToLower(ToUpper(r)); the tests check
// over every rune that each of those comparisons implies equal keys.
// Full case mappings that change the length (ß and "SS") are not covered:
// the decoders above compare character by character.
func appendCaseKey[T string | []byte](dst []byte, s T) []byte {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		i += n
		r = unicode.ToLower(unicode.ToUpper(r))
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		dst = utf8.AppendRune(dst, m)
	}
	return dst
}
