package config

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format returns src in canonical HCL layout (hclwrite.Format: aligned
// equals signs, two-space indent). Source with syntax errors is not
// formatted: the errors are returned, positioned in filename, and the
// result is nil. Formatting never evaluates anything.
func Format(filename string, src []byte) ([]byte, hcl.Diagnostics) {
	_, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	return hclwrite.Format(src), diags
}

// PrintableSource returns src as a file for printing the diagnostics of
// Format with snippets: the literal values of secret attributes
// (passwords, keys, the user information of a redis URL) are blanked with
// '*', as Load does for its own diagnostics. Source with syntax errors is
// blanked as far as it parses.
func PrintableSource(filename string, src []byte) *hcl.File {
	f, _ := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if f == nil {
		return &hcl.File{Bytes: src}
	}
	return redacted(f)
}
