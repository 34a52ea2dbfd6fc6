package config

import (
	"cmp"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// summaryUnterminatedString is the one error for a quoted string that runs
// past the end of its line: everything after it is misread, so HCL's own
// follow-on errors ("Invalid multi-line string" on every later line,
// "Unterminated template string" at the end) are dropped.
const summaryUnterminatedString = "Unterminated string"

// syntaxCause reduces a file's syntax diagnostics to the one that caused
// the others: the error that starts first in the file. A syntax error
// (a missing quote or brace above all) makes the parser misread the rest of
// the file, so the errors after it are noise. A string that runs past the
// end of its line is reported at its opening quote. Files without errors
// keep their diagnostics (warnings) unchanged.
func syntaxCause(name string, src []byte, diags hcl.Diagnostics) hcl.Diagnostics {
	errs := diags.Errs()
	if len(errs) == 0 {
		return diags
	}
	var first *hcl.Diagnostic
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		if first == nil || diagBefore(d, first) {
			first = d
		}
	}
	if first.Summary == "Invalid multi-line string" || first.Summary == "Unterminated template string" {
		if d := unterminatedString(name, src, first); d != nil {
			return hcl.Diagnostics{d}
		}
	}
	return hcl.Diagnostics{first}
}

// diagBefore reports whether a's Subject starts before b's. Diagnostics
// without a Subject come first.
func diagBefore(a, b *hcl.Diagnostic) bool {
	return compareDiags(a, b) < 0
}

// unterminatedString returns the diagnostic for the string whose line end
// d reports, at its opening quote, or nil when the quote is not found.
func unterminatedString(name string, src []byte, d *hcl.Diagnostic) *hcl.Diagnostic {
	if d.Subject == nil {
		return nil
	}
	at := d.Subject.Start.Byte
	tokens, _ := hclsyntax.LexConfig(src, name, hcl.InitialPos)
	var open *hclsyntax.Token
	for i := range tokens {
		t := &tokens[i]
		if t.Range.Start.Byte > at {
			break
		}
		if t.Type == hclsyntax.TokenOQuote {
			open = t
		}
	}
	if open == nil || open.Range.Start.Line != d.Subject.Start.Line {
		return nil
	}
	// The subject runs from the opening quote to the end of its line.
	end := open.Range.End
	for i := open.Range.Start.Byte; i < len(src) && src[i] != '\n' && src[i] != '\r'; i++ {
		end.Byte = i + 1
	}
	end.Column = open.Range.Start.Column + (end.Byte - open.Range.Start.Byte)
	subject := hcl.Range{Filename: name, Start: open.Range.Start, End: end}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summaryUnterminatedString,
		Detail:   "The string that starts here has no closing quote on its line, so the rest of the file cannot be read. Add the closing \" (a string needing several lines is a heredoc: <<EOT … EOT).",
		Subject:  &subject,
	}
}

// compareDiags orders diagnostics by file, line and column of their
// Subject; those without a Subject come first.
func compareDiags(a, b *hcl.Diagnostic) int {
	switch {
	case a.Subject == nil && b.Subject == nil:
		return 0
	case a.Subject == nil:
		return -1
	case b.Subject == nil:
		return 1
	}
	return cmp.Or(
		cmp.Compare(a.Subject.Filename, b.Subject.Filename),
		cmp.Compare(a.Subject.Start.Line, b.Subject.Start.Line),
		cmp.Compare(a.Subject.Start.Column, b.Subject.Start.Column),
	)
}

// SortDiagnostics sorts diags in place by file, line and column (those
// without a position first), keeping the order of equal positions.
func SortDiagnostics(diags hcl.Diagnostics) {
	slices.SortStableFunc(diags, compareDiags)
}
