package config

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/hashicorp/hcl/v2"
)

// decodeLookupsBlock decodes one lookups block. The block has no schema:
// every attribute is a system-scope lookup (name = string, number or bool),
// read with JustAttributes, and nested blocks are errors. Several blocks, in one file
// or many, are merged by merge; a name set twice is an error there.
func decodeLookupsBlock(block *hcl.Block, ctx *hcl.EvalContext) ([]*Lookup, hcl.Diagnostics) {
	attrs, diags := block.Body.JustAttributes()
	sorted := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		sorted = append(sorted, a)
	}
	slices.SortFunc(sorted, func(a, b *hcl.Attribute) int {
		return cmp.Compare(a.Range.Start.Byte, b.Range.Start.Byte)
	})
	out := make([]*Lookup, 0, len(sorted))
	for _, attr := range sorted {
		if !nameRE.MatchString(attr.Name) {
			diags = append(diags, errorAt(summaryInvalidName,
				fmt.Sprintf("%q is not a valid lookup name. %s", attr.Name, badNameDetail), attr.NameRange, attr.Range.Ptr()))
			continue
		}
		val, d := decodeLookupValue(attr.Name, attr.Expr, ctx, attr.Range)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		out = append(out, &Lookup{Name: attr.Name, Value: val, DeclRange: attr.Range, NameRange: attr.NameRange})
	}
	return out, diags
}
