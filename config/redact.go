package config

import (
	"bytes"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// secretAttributes hold secrets wherever they appear; every attribute of a
// secret_lookups block does too.
var secretAttributes = map[string]bool{
	"signing_key":    true,
	"bind_password":  true,
	"client_secret":  true,
	"private_key":    true,
	"eab_hmac":       true,
	"secret_lookups": true,
	// the cluster block's
	"password":          true,
	"sentinel_password": true,
	"encryption_key":    true,
}

// urlAttributes hold URLs whose user information is blanked: the cluster
// block refuses a password in its redis URL, but the snippet of that very
// diagnostic must not show it.
var urlAttributes = map[string]bool{"redis": true}

// redacted returns a copy of f whose source bytes have the literal text of
// secret values replaced by '*', for printing diagnostics with source
// snippets (hcl's snippets quote the lines around a problem, which may hold
// a secret written into the file). Line structure and lengths are kept, so
// every position stays valid. The syntax tree is shared: only the bytes
// used for printing change.
func redacted(f *hcl.File) *hcl.File {
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok || f.Bytes == nil {
		return f
	}
	src := append([]byte(nil), f.Bytes...)
	var walk func(b *hclsyntax.Body, all bool)
	walk = func(b *hclsyntax.Body, all bool) {
		for name, attr := range b.Attributes {
			switch {
			case all || secretAttributes[name]:
				blank(src, attr.Expr.Range())
			case urlAttributes[name]:
				blankUserinfo(src, attr.Expr.Range())
			}
		}
		for _, blk := range b.Blocks {
			walk(blk.Body, all || blk.Type == "secret_lookups")
		}
	}
	walk(body, false)
	return &hcl.File{Body: f.Body, Bytes: src, Nav: f.Nav}
}

// blank overwrites r's bytes with '*', keeping quotes, newlines and the
// text of function calls (env("X"), file("p")): only literals are secrets
// in the file.
func blank(src []byte, r hcl.Range) {
	if r.Start.Byte < 0 || r.End.Byte > len(src) || r.Start.Byte >= r.End.Byte {
		return
	}
	seg := src[r.Start.Byte:r.End.Byte]
	if containsCall(seg) {
		return
	}
	for i, c := range seg {
		if c != '"' && c != '\n' && c != '{' && c != '}' && c != '=' && c != ',' && c != ' ' && c != '\t' && c != '\r' {
			seg[i] = '*'
		}
	}
}

// containsCall reports whether an expression's text calls a function, by
// looking for an identifier followed by "(" outside quotes.
func containsCall(seg []byte) bool {
	inQuote := false
	for i, c := range seg {
		switch {
		case c == '"' && (i == 0 || seg[i-1] != '\\'):
			inQuote = !inQuote
		case c == '(' && !inQuote:
			return true
		}
	}
	return false
}

// blankUserinfo overwrites the "user:password" of a URL literal in r with
// '*': everything between "://" and the last "@" before the host.
func blankUserinfo(src []byte, r hcl.Range) {
	if r.Start.Byte < 0 || r.End.Byte > len(src) || r.Start.Byte >= r.End.Byte {
		return
	}
	seg := src[r.Start.Byte:r.End.Byte]
	i := bytes.Index(seg, []byte("://"))
	if i < 0 {
		return
	}
	rest := seg[i+3:]
	if j := bytes.IndexAny(rest, "/\"\n"); j >= 0 {
		rest = rest[:j]
	}
	at := bytes.LastIndexByte(rest, '@')
	for k := range at {
		rest[k] = '*'
	}
}
