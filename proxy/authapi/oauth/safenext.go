package oauth

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNextLen is the longest "next" value SafeNext accepts, in bytes, before
// and after escaping.
const MaxNextLen = 2048

// SafeNext checks that next, the page to return to after a login, is a
// same-origin relative path, and returns the value to redirect to.
//
// It accepts only a path that starts with a single "/" (not "//" and not
// "/\"), without a scheme or host, without a backslash anywhere, without
// control characters (ASCII, C1, Unicode format, line and paragraph
// separators), in valid UTF-8 and at most MaxNextLen bytes long. The same
// checks are repeated after decoding percent-escapes once, so "/%2f%2fevil"
// and "/%5cevil" and "/%0d%0a..." are refused too, as is a malformed escape.
// The empty string means "/".
//
// The returned value is next with spaces, quotes, angle brackets, backquotes
// and non-ASCII bytes percent-encoded, so it is printable ASCII.
func SafeNext(next string) (string, bool) {
	if next == "" {
		return "/", true
	}
	if len(next) > MaxNextLen || !utf8.ValidString(next) || !safePath(next) {
		return "", false
	}
	dec, err := url.PathUnescape(next)
	if err != nil || !safePath(dec) {
		return "", false
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	out := escapeNext(next)
	if len(out) > MaxNextLen {
		return "", false
	}
	return out, true
}

// safePath reports whether s starts with exactly one "/" (not followed by
// "/" or "\"), and holds no backslash and no control or invisible format
// character.
func safePath(s string) bool {
	if s == "" || s[0] != '/' {
		return false
	}
	if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c < 0x20 || c == 0x7f {
			return false
		}
	}
	for _, r := range s {
		if r >= utf8.RuneSelf && (unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)) {
			return false
		}
	}
	return true
}

// escapeNext percent-encodes the bytes of s that have no business raw in a
// Location header or an HTML attribute.
func escapeNext(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	escaped := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf, c == ' ', c == '"', c == '<', c == '>', c == '`':
			if !escaped {
				escaped = true
				b.Grow(len(s) + 16)
				b.WriteString(s[:i])
			}
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		case escaped:
			b.WriteByte(c)
		}
	}
	if !escaped {
		return s
	}
	return b.String()
}
