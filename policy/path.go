package policy

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// Path is a request path in canonical form. The proxy authorizes and forwards
// exactly Escaped; decisions look at Segments.
type Path struct {
	// Escaped is the canonical percent-encoded path: it starts with "/",
	// escapes are upper-case, and only bytes outside RFC 3986 pchar (minus
	// ";") are escaped. ParsePath(p.Escaped) returns p again.
	Escaped string
	// Segments are the decoded segments. A trailing slash does not add an
	// empty segment, so "/a/b" and "/a/b/" are decided alike (an upstream
	// that strips the slash must not see a path the policy never judged).
	// The root path "/" has no segments.
	Segments []string
}

// Path errors. Every one of them is a reason to refuse the request with 400;
// canonicalization rejects, it never repairs.
var (
	ErrPathNotAbsolute   = errors.New("path does not start with /")
	ErrPathEmptySegment  = errors.New("path contains an empty segment (//)")
	ErrPathDotSegment    = errors.New("path contains a dot segment")
	ErrPathBadEscape     = errors.New("path contains a malformed percent escape")
	ErrPathForbiddenByte = errors.New("path contains a forbidden character")
	ErrPathBadUTF8       = errors.New("path is not valid UTF-8 after decoding")
	ErrPathTooLong       = errors.New("path is too long")
)

// Limits on a request path. Longer paths are refused (414) before any
// decision, which bounds the cost of matching "**" patterns.
const (
	MaxPathBytes    = 8192
	MaxPathSegments = 128
)

// ParsePath checks a raw (still percent-encoded) path and returns its
// canonical form.
//
// It refuses, rather than repairs: dot segments ("." and "..", raw or encoded
// in any case), empty segments ("//"), malformed escapes, control characters
// and NUL, raw or encoded "\" and ";" (Windows servers and Java containers
// treat them as separators), encoded "/", "?" and "#" (they change the
// meaning of the path downstream), an encoded "%" (a double-encoded path
// would be decoded once more by some upstreams), and bytes that do not
// decode to valid UTF-8.
func ParsePath(raw string) (Path, error) {
	if raw == "" || raw[0] != '/' {
		return Path{}, ErrPathNotAbsolute
	}
	if raw == "/" {
		return Path{Escaped: "/"}, nil
	}
	if len(raw) > MaxPathBytes {
		return Path{}, ErrPathTooLong
	}
	body := raw[1:]
	trailing := strings.HasSuffix(body, "/")
	if trailing {
		body = body[:len(body)-1]
	}
	n := strings.Count(body, "/") + 1
	if n > MaxPathSegments {
		return Path{}, ErrPathTooLong
	}
	segs := make([]string, 0, n)
	canonical := true // raw is already canonical; Escaped can alias it
	for seg := range strings.SplitSeq(body, "/") {
		if seg == "" {
			return Path{}, ErrPathEmptySegment
		}
		dec, canon, err := decodeSegment(seg)
		if err != nil {
			return Path{}, err
		}
		if dec == "." || dec == ".." {
			return Path{}, ErrPathDotSegment
		}
		canonical = canonical && canon
		segs = append(segs, dec)
	}
	if canonical {
		return Path{Escaped: raw, Segments: segs}, nil
	}
	var b strings.Builder
	b.Grow(len(raw) + 8)
	for _, s := range segs {
		b.WriteByte('/')
		escapeSegment(&b, s)
	}
	if trailing {
		b.WriteByte('/')
	}
	if b.Len() > MaxPathBytes {
		// Escaping can triple a byte; the limit holds for what is forwarded.
		return Path{}, ErrPathTooLong
	}
	return Path{Escaped: b.String(), Segments: segs}, nil
}

// decodeSegment percent-decodes one segment and reports whether seg was
// already in canonical escaped form.
func decodeSegment(seg string) (dec string, canonical bool, err error) {
	canonical = true
	hasEscape := false
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c == '%':
			if i+2 >= len(seg) {
				return "", false, ErrPathBadEscape
			}
			hi, ok1 := unhex(seg[i+1])
			lo, ok2 := unhex(seg[i+2])
			if !ok1 || !ok2 {
				return "", false, ErrPathBadEscape
			}
			d := hi<<4 | lo
			if forbiddenDecoded(d) {
				return "", false, ErrPathForbiddenByte
			}
			// Canonical escapes are upper-case and only for bytes that must be escaped.
			if isPchar(d) || isLowerHex(seg[i+1]) || isLowerHex(seg[i+2]) {
				canonical = false
			}
			hasEscape = true
			i += 2
		case forbiddenRaw(c):
			return "", false, ErrPathForbiddenByte
		case !isPchar(c):
			canonical = false // e.g. raw UTF-8 or "|": valid, escaped on output
		}
	}
	if !hasEscape {
		dec = seg
	} else {
		buf := make([]byte, 0, len(seg))
		for i := 0; i < len(seg); i++ {
			if seg[i] == '%' {
				hi, _ := unhex(seg[i+1])
				lo, _ := unhex(seg[i+2])
				buf = append(buf, hi<<4|lo)
				i += 2
				continue
			}
			buf = append(buf, seg[i])
		}
		dec = string(buf)
	}
	if !utf8.ValidString(dec) {
		return "", false, ErrPathBadUTF8
	}
	return dec, canonical, nil
}

// forbiddenRaw reports bytes refused when they appear unescaped in a path.
func forbiddenRaw(c byte) bool {
	return c < 0x20 || c == 0x7f || c == '\\' || c == ';' || c == '#' || c == '?' || c == ' '
}

// forbiddenDecoded reports bytes refused when they appear percent-encoded.
func forbiddenDecoded(c byte) bool {
	return c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == ';' || c == '#' || c == '?' || c == '%'
}

// isPchar reports RFC 3986 pchar bytes that need no escaping, minus ";".
func isPchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', '!', '$', '&', '\'', '(', ')', '*', '+', ',', '=', ':', '@':
		return true
	}
	return false
}

func isLowerHex(c byte) bool { return 'a' <= c && c <= 'f' }

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

const upperHex = "0123456789ABCDEF"

func escapeSegment(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isPchar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&15])
	}
}
