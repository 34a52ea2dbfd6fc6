package config

import (
	"bytes"
	"sort"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// chunkBytes is the size above which a file is cut into pieces that are
// parsed in parallel. Reloads are bounded by parsing (lexing a 1.3 MB file
// of 10,000 grants is most of a reload), and hclsyntax parses one file on
// one core, appending every token to one slice that is copied as it grows.
// Pieces of this size use all cores and keep each token slice small.
const chunkBytes = 64 << 10

// cutPoints returns the byte offsets at which src is cut into pieces of
// about size bytes: each one is the start of a line whose first byte starts
// an identifier, the way a top-level block starts in a formatted file.
// The first piece starts at 0 (not returned). A file that is not valid
// UTF-8 is not cut: hclsyntax counts lines by grapheme clusters, and an
// invalid sequence before a newline can hide it from the count, so a
// piece's start line would not be the one the whole parse gives.
//
// A cut point may still fall inside something (a heredoc, a block comment,
// a block whose body is not indented). The piece before it then ends
// inside that construct, which hclsyntax always reports as an error, and
// the caller parses the whole file instead (parseFile). A cut is only
// kept when every piece parses without error, and then the pieces are
// exactly the file's top-level items in order: each piece starts where the
// previous one ended with all its items complete.
func cutPoints(src []byte, size int) []int {
	if len(src) <= size || !utf8.Valid(src) {
		return nil
	}
	var cuts []int
	for at := size; at < len(src); {
		nl := bytes.IndexByte(src[at:], '\n')
		if nl < 0 {
			break
		}
		at += nl + 1
		if at < len(src) && isIdentStart(src[at]) {
			cuts = append(cuts, at)
			at += size
		}
	}
	return cuts
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

// piece is one part of a file to parse: src[start:end].
type piece struct {
	file       int // index of the file
	start, end int
	pos        hcl.Pos // position of start in the file
}

// pieces cuts one file into the pieces to parse (one for a small file).
func pieces(fileIdx int, src []byte, size int) []piece {
	cuts := cutPoints(src, size)
	out := make([]piece, 0, len(cuts)+1)
	start, pos := 0, hcl.InitialPos
	for _, c := range append(cuts, len(src)) {
		out = append(out, piece{file: fileIdx, start: start, end: c, pos: pos})
		pos = hcl.Pos{
			Line:   pos.Line + bytes.Count(src[start:c], []byte{'\n'}),
			Column: 1,
			Byte:   c,
		}
		start = c
	}
	return out
}

// parsedFile is a file parsed whole or in pieces.
type parsedFile struct {
	// file is the whole file: its Bytes and Body (the pieces' bodies
	// merged) serve diagnostics' snippets and redaction.
	file *hcl.File
	// parts are the pieces' files in order, each decoded on its own; one
	// element when the file was parsed whole.
	parts []*hcl.File
}

// joinPieces returns the file made of its parsed pieces, or ok false when
// the file must be parsed whole: a piece has errors (the cut may have
// fallen inside something, and the whole file's diagnostics are the ones
// to show) or two pieces set the same top-level attribute (the whole parse
// reports it).
func joinPieces(name string, src []byte, ps []piece, files []*hcl.File, diags []hcl.Diagnostics) (parsedFile, hcl.Diagnostics, bool) {
	if len(files) == 1 {
		return parsedFile{file: files[0], parts: files}, diags[0], true
	}
	var all hcl.Diagnostics
	for _, d := range diags {
		if d.HasErrors() {
			return parsedFile{}, nil, false
		}
		all = append(all, d...)
	}
	first := files[0].Body.(*hclsyntax.Body)
	last := files[len(files)-1].Body.(*hclsyntax.Body)
	body := &hclsyntax.Body{
		Attributes: make(hclsyntax.Attributes),
		SrcRange:   hcl.Range{Filename: name, Start: first.SrcRange.Start, End: last.SrcRange.End},
		EndRange:   last.EndRange,
	}
	nav := &piecesNav{}
	for i, f := range files {
		b := f.Body.(*hclsyntax.Body)
		for n, a := range b.Attributes {
			if _, dup := body.Attributes[n]; dup {
				return parsedFile{}, nil, false
			}
			body.Attributes[n] = a
		}
		body.Blocks = append(body.Blocks, b.Blocks...)
		nav.starts = append(nav.starts, ps[i].start)
		nav.navs = append(nav.navs, f.Nav)
	}
	return parsedFile{file: &hcl.File{Body: body, Bytes: src, Nav: nav}, parts: files}, all, true
}

// piecesNav answers the diagnostic printer's "in role "x"" context for a
// file parsed in pieces, from the piece that holds the offset.
type piecesNav struct {
	starts []int
	navs   []any
}

func (n *piecesNav) nav(offset int) any {
	i := sort.SearchInts(n.starts, offset+1) - 1
	if i < 0 {
		return nil
	}
	return n.navs[i]
}

// ContextString implements the interface hcl's diagnostic printer asks for.
func (n *piecesNav) ContextString(offset int) string {
	if cs, ok := n.nav(offset).(interface{ ContextString(int) string }); ok {
		return cs.ContextString(offset)
	}
	return ""
}

// ContextDefRange is hclsyntax's navigation method of the same name.
func (n *piecesNav) ContextDefRange(offset int) hcl.Range {
	if cd, ok := n.nav(offset).(interface{ ContextDefRange(int) hcl.Range }); ok {
		return cd.ContextDefRange(offset)
	}
	return hcl.Range{}
}

// appendFile appends g's declarations to f's, keeping each kind in order:
// the result is what decoding the two pieces as one file gives.
func (f *File) appendFile(g *File) {
	f.Servers = append(f.Servers, g.Servers...)
	f.Upstreams = append(f.Upstreams, g.Upstreams...)
	f.Apps = append(f.Apps, g.Apps...)
	f.Roles = append(f.Roles, g.Roles...)
	f.Lookups = append(f.Lookups, g.Lookups...)
	f.Users = append(f.Users, g.Users...)
	f.Admins = append(f.Admins, g.Admins...)
	f.Sessions = append(f.Sessions, g.Sessions...)
	f.TLS = append(f.TLS, g.TLS...)
	f.LDAP = append(f.LDAP, g.LDAP...)
	f.OAuth = append(f.OAuth, g.OAuth...)
	f.CORS = append(f.CORS, g.CORS...)
	f.Cluster = append(f.Cluster, g.Cluster...)
}
