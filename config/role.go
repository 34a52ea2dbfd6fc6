package config

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// roleSchema is the body of role "name" { … }.
var roleSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "active"},
		{Name: "lookups"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "allow", LabelNames: []string{"upstream"}},
		{Type: "deny", LabelNames: []string{"upstream"}},
	},
}

// allowSchema is the body of allow "upstream" { … }.
var allowSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "paths", Required: true},
		{Name: "verbs", Required: true},
		{Name: "records"},
		{Name: "filter"},
	},
}

// denySchema is the body of deny "upstream" { … }: a deny refuses whole
// requests, so record selection and filters do not apply.
var denySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "paths", Required: true},
		{Name: "verbs", Required: true},
	},
}

// decodeRoleBlock decodes one role block with its grants. Grant labels are
// checked against the declared upstreams by Compile.
func decodeRoleBlock(block *hcl.Block, ctx *hcl.EvalContext) (*Role, hcl.Diagnostics) {
	r := &Role{
		Name:      block.Labels[0],
		Active:    true,
		DeclRange: block.DefRange,
		NameRange: block.LabelRanges[0],
	}
	diags := checkName("role", r.Name, r.NameRange, r.DeclRange)
	content, d := block.Body.Content(roleSchema)
	diags = append(diags, d...)
	for _, as := range roleSchema.Attributes {
		attr := content.Attributes[as.Name]
		if attr == nil {
			continue
		}
		switch as.Name {
		case "active":
			r.Active, d = decodeBool(attr, ctx)
		case "lookups":
			r.Lookups, d = decodeLookupMap(attr, ctx)
		}
		diags = append(diags, d...)
	}
	for _, b := range content.Blocks {
		g, d := decodeGrantBlock(b, ctx)
		diags = append(diags, d...)
		r.Grants = append(r.Grants, g)
	}
	return r, diags
}

// decodeGrantBlock decodes an allow or deny block.
func decodeGrantBlock(block *hcl.Block, ctx *hcl.EvalContext) (*Grant, hcl.Diagnostics) {
	g := &Grant{
		Deny:          block.Type == "deny",
		Upstream:      block.Labels[0],
		DeclRange:     block.DefRange,
		UpstreamRange: block.LabelRanges[0],
	}
	schema := allowSchema
	if g.Deny {
		schema = denySchema
	}
	content, diags := block.Body.Content(schema)
	for _, as := range schema.Attributes {
		attr := content.Attributes[as.Name]
		if attr == nil {
			continue
		}
		var d hcl.Diagnostics
		switch as.Name {
		case "paths":
			g.Paths, d = decodeGlobs(attr, ctx)
		case "verbs":
			g.Verbs, d = decodeVerbs(attr, ctx)
		case "records":
			g.Records, d = decodeString(attr, ctx)
			g.RecordsRange = attr.Expr.Range()
		case "filter":
			g.Filter, d = decodeString(attr, ctx)
			g.FilterRange = attr.Expr.Range()
			if !d.HasErrors() {
				// Fail closed: a grant whose filter is not enforced would
				// return every record. Refused until the filter stage lands.
				d = append(d, errorAt(summaryFilterUnsupported,
					"This build of gatehouse does not compile or enforce record filters yet, so a grant with a filter would expose every record. Remove filter (and keep the grant's paths narrow) until record filtering is available.",
					attr.Expr.Range(), attr.Range.Ptr()))
			}
		}
		diags = append(diags, d...)
	}
	return g, diags
}

// decodeGlobs compiles a non-empty list of path globs with policy.ParseGlob,
// reporting each bad pattern at its own list element.
func decodeGlobs(attr *hcl.Attribute, ctx *hcl.EvalContext) ([]policy.Glob, hcl.Diagnostics) {
	items, diags := decodeStringList(attr, ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	if len(items) == 0 {
		return nil, append(diags, errorAt(summaryEmptyList,
			`paths is empty, so the grant would match nothing. List at least one pattern, such as "/employees/*" or "/**".`,
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	globs := make([]policy.Glob, 0, len(items))
	for _, it := range items {
		g, err := policy.ParseGlob(it.Value)
		if err != nil {
			diags = append(diags, errorAt(summaryInvalidGlob,
				fmt.Sprintf("Path pattern %s: %s. Patterns are paths whose segments may be \"*\" (one segment) or \"**\" (any number).", shown(it.Expr, it.Value), shownErr(it.Expr, err)),
				it.Expr.Range(), attr.Range.Ptr()))
			continue
		}
		globs = append(globs, g)
	}
	return globs, diags
}

// decodeVerbs reads a non-empty list of HTTP methods into a policy.Verb set.
// Names are exact and upper case; no verb implies another.
func decodeVerbs(attr *hcl.Attribute, ctx *hcl.EvalContext) (policy.Verb, hcl.Diagnostics) {
	items, diags := decodeStringList(attr, ctx)
	if diags.HasErrors() {
		return 0, diags
	}
	if len(items) == 0 {
		return 0, append(diags, errorAt(summaryEmptyList,
			`verbs is empty, so the grant would match nothing. List at least one method, such as ["GET", "HEAD"].`,
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	var verbs policy.Verb
	for _, it := range items {
		v, ok := policy.ParseVerb(it.Value)
		if !ok {
			hint := "Use one of " + strings.Join(policy.VerbNames(), ", ") + "."
			if _, upper := policy.ParseVerb(strings.ToUpper(it.Value)); upper {
				hint = fmt.Sprintf("Verbs are upper case: write %s.", shown(it.Expr, strings.ToUpper(it.Value)))
			}
			diags = append(diags, errorAt(summaryUnknownVerb,
				fmt.Sprintf("%s is not a verb a grant can name. %s", shown(it.Expr, it.Value), hint),
				it.Expr.Range(), attr.Range.Ptr()))
			continue
		}
		verbs |= v
	}
	return verbs, diags
}
