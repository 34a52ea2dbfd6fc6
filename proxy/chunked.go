package proxy

import (
	"bytes"

	"golang.org/x/net/http/httpguts"
)

// The grammar of a chunked request body (RFC 9112 section 7.1), which the
// framing follower holds bodies to (framing.go). Pure functions over one
// line without its CRLF.

// maxChunkSizeDigits is the longest chunk size net/http reads.
const maxChunkSizeDigits = 16

// parseChunkSize parses a chunk-size line without its CRLF: chunk-size
// [ chunk-ext ] (RFC 9112 section 7.1.1), where chunk-size is 1 to 16 hex
// digits that fit an int63 and chunk-ext is
// *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] ).
// why is non-empty when the line is refused.
func parseChunkSize(b []byte) (size int64, why string) {
	i := 0
	for i < len(b) && isHex(b[i]) {
		i++
	}
	switch {
	case i == 0:
		return 0, "chunk size is not a hex number"
	case i > maxChunkSizeDigits:
		return 0, "chunk size has too many digits"
	}
	// 1 to 16 hex digits: parseInt wraps a value past int63 to a negative.
	if size, _ = parseInt(b[:i], 16); size < 0 {
		return 0, "chunk size overflows"
	}
	if !validChunkExt(b[i:]) {
		return 0, "chunk size is followed by something other than a chunk extension"
	}
	return size, ""
}

// validChunkExt reports whether b is a chunk-ext.
func validChunkExt(b []byte) bool {
	for len(b) > 0 {
		// White space with no extension after it is not chunk-ext: BWS
		// only precedes ";", "=" and what follows them.
		b = skipOWS(b)
		if len(b) == 0 || b[0] != ';' {
			return false
		}
		b = skipOWS(b[1:])
		n := tokenLen(b)
		if n == 0 {
			return false
		}
		b = b[n:]
		if r := skipOWS(b); len(r) > 0 && r[0] == '=' {
			b = skipOWS(r[1:])
			if n = tokenLen(b); n == 0 {
				if n = quotedStringLen(b); n == 0 {
					return false
				}
			}
			b = b[n:]
		}
	}
	return true
}

// checkTrailerField checks one trailer field line (without its CRLF):
// field-name ":" OWS field-value OWS, no obsolete line folding, and none of
// the fields that frame or route a message, which RFC 9110 section 6.5.1
// keeps out of trailers (and net/http refuses to announce in Trailer).
// gatehouse never forwards request trailers; a malformed one is refused
// because other parsers on the way would read the body differently.
func checkTrailerField(b []byte) string {
	if b[0] == ' ' || b[0] == '\t' {
		return "chunked trailer uses obsolete line folding"
	}
	name, value, ok := bytes.Cut(b, []byte(":"))
	if !ok || len(name) == 0 || tokenLen(name) != len(name) {
		return "chunked trailer field is malformed"
	}
	if !httpguts.ValidHeaderFieldValue(string(value)) {
		return "chunked trailer field value is malformed"
	}
	for _, f := range [...]string{"Content-Length", "Transfer-Encoding", "Trailer", "Host"} {
		if bytes.EqualFold(name, []byte(f)) {
			return "chunked trailer carries " + f
		}
	}
	return ""
}

func skipOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// tokenLen returns the length of the token (RFC 9110 section 5.6.2) that b
// starts with.
func tokenLen(b []byte) int {
	for i, c := range b {
		if !httpguts.IsTokenRune(rune(c)) {
			return i
		}
	}
	return len(b)
}

// quotedStringLen returns the length of the quoted-string (RFC 9110
// section 5.6.4) that b starts with, or 0.
func quotedStringLen(b []byte) int {
	if len(b) == 0 || b[0] != '"' {
		return 0
	}
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			// quoted-pair = "\\" ( HTAB / SP / VCHAR / obs-text )
			if i+1 == len(b) || !qdChar(b[i+1]) && b[i+1] != '"' && b[i+1] != '\\' {
				return 0
			}
			i++
		case !qdChar(c):
			return 0
		}
	}
	return 0
}

// qdChar reports whether c is qdtext: HTAB, SP, and visible or obs-text
// bytes other than DQUOTE and backslash.
func qdChar(c byte) bool {
	return c == '\t' || c == ' ' || (c >= 0x21 && c != '"' && c != '\\' && c != 0x7f)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
