package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// upstreamSchema is the body of upstream "name" { … }.
var upstreamSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "url", Required: true},
		{Name: "prefix", Required: true},
		{Name: "timeout"},
		{Name: "active"},
		{Name: "public"},
	},
}

// decodeUpstreamBlock decodes one upstream block. The upstream is returned
// even when it has errors, so that references to it do not cascade into
// "Unknown upstream" diagnostics.
func decodeUpstreamBlock(block *hcl.Block, ctx *hcl.EvalContext) (*Upstream, hcl.Diagnostics) {
	u := &Upstream{
		Name:      block.Labels[0],
		Timeout:   30 * time.Second,
		Active:    true,
		DeclRange: block.DefRange,
		NameRange: block.LabelRanges[0],
	}
	diags := checkName("upstream", u.Name, u.NameRange, u.DeclRange)
	content, d := block.Body.Content(upstreamSchema)
	diags = append(diags, d...)
	for _, as := range upstreamSchema.Attributes {
		attr := content.Attributes[as.Name]
		if attr == nil {
			continue
		}
		switch as.Name {
		case "url":
			u.URL, d = decodeURL(attr, ctx)
			u.URLRange = attr.Expr.Range()
		case "prefix":
			u.Prefix, d = decodePrefix(attr, ctx)
			u.PrefixRange = attr.Expr.Range()
		case "timeout":
			u.Timeout, d = decodeDuration(attr, ctx, true)
		case "active":
			u.Active, d = decodeBool(attr, ctx)
		case "public":
			u.Public, d = decodeBool(attr, ctx)
		}
		diags = append(diags, d...)
	}
	return u, diags
}

// decodePrefix reads a routing prefix: a canonical path ("/hr", "/api/v1" or
// "/" for everything) without a trailing slash or "*". It returns "" with
// diagnostics when the prefix is unusable.
func decodePrefix(attr *hcl.Attribute, ctx *hcl.EvalContext) (string, hcl.Diagnostics) {
	s, diags := decodeString(attr, ctx)
	if diags.HasErrors() {
		return "", diags
	}
	bad := func(why, hint string) (string, hcl.Diagnostics) {
		return "", append(diags, errorAt(summaryInvalidPrefix,
			fmt.Sprintf("prefix = %s %s. %s", shown(attr.Expr, s), why, hint),
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	p, err := policy.ParsePath(s)
	switch {
	case err != nil:
		return bad(fmt.Sprintf("is not a valid path (%v)", err), `Write a path such as "/hr", or "/" to route everything.`)
	case s != "/" && strings.HasSuffix(s, "/"):
		return bad("ends with \"/\"", "Remove the trailing slash: \"/hr\" matches \"/hr/\" and everything below it.")
	case strings.Contains(s, "*"):
		return bad("contains \"*\"", "Prefixes are literal paths; wildcards belong in a role's paths.")
	case p.Escaped != s:
		return bad("is not in canonical form", fmt.Sprintf("Write it as %s.", shown(attr.Expr, p.Escaped)))
	}
	return s, diags
}
