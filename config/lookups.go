package config

import (
	"cmp"
	"fmt"
	"maps"
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

// checkSecretClash reports secret lookups that have the name of a plain
// lookup of the same scope. The schema lists lookups before
// secret_lookups, so plain ones are decoded first.
func checkSecretClash(plain, secret map[string]any, attr *hcl.Attribute) hcl.Diagnostics {
	var diags hcl.Diagnostics
	names := slices.Sorted(maps.Keys(secret))
	for _, k := range names {
		if _, dup := plain[k]; dup {
			diags = append(diags, errorAt(summaryDuplicateLookup,
				fmt.Sprintf("Lookup %q is in both lookups and secret_lookups; keep it in one of them.", k),
				attr.Expr.Range(), attr.Range.Ptr()))
		}
	}
	return diags
}

// lookupNames returns every lookup name declared in any scope.
func (c *Config) lookupNames() map[string]bool {
	names := map[string]bool{}
	add := func(ms ...map[string]any) {
		for _, m := range ms {
			for k := range m {
				names[k] = true
			}
		}
	}
	for _, l := range c.Lookups {
		names[l.Name] = true
	}
	for _, a := range c.Apps {
		add(a.Lookups, a.Secrets)
	}
	for _, r := range c.Roles {
		add(r.Lookups, r.Secrets)
	}
	for _, u := range c.Users {
		add(u.Lookups, u.Secrets)
	}
	for _, l := range c.LDAP {
		for k := range l.Spec.Lookups {
			names[k] = true
		}
	}
	for _, o := range c.OAuth {
		for k := range o.Spec.Lookups {
			names[k] = true
		}
	}
	return names
}

// checkLookupRefs reports filters that read a lookup no scope declares: a
// typo there would make the filter compare with nil.
func (c *Config) checkLookupRefs() hcl.Diagnostics {
	names := c.lookupNames()
	known := slices.Sorted(maps.Keys(names))
	var diags hcl.Diagnostics
	for _, u := range c.Upstreams {
		for _, h := range u.Headers {
			for _, n := range h.Lookups() {
				if names[n] {
					continue
				}
				diags = append(diags, errorAt(summaryUnknownLookup,
					fmt.Sprintf("Header %q of upstream %q uses {lookup.%s}, but no scope declares %q.%s", h.Name, u.Name, n, n, didYouMean(n, known)),
					u.HeadersRange, u.DeclRange.Ptr()))
			}
		}
	}
	for _, r := range c.Roles {
		for _, g := range r.Grants {
			if g.Program == nil {
				continue
			}
			used, _ := g.Program.Lookups()
			for _, n := range used {
				if names[n] {
					continue
				}
				diags = append(diags, errorAt(summaryUnknownLookup,
					fmt.Sprintf("The filter reads lookup.%s, but no lookups or secret_lookups (system, app, role or user), nor the lookups of an ldap or oauth block, declare %q.%s Declare it or fix the name.", n, n, didYouMean(n, known)),
					g.FilterRange, g.DeclRange.Ptr()))
			}
		}
	}
	return diags
}
