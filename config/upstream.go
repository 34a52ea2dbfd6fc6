package config

import (
	"fmt"
	"net/textproto"
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
		{Name: "headers"},
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
		case "headers":
			u.Headers, d = decodeHeaderTemplates(attr, ctx)
			u.HeadersRange = attr.Range
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

// reservedHeaders cannot be set by upstream header templates: gatehouse or
// net/http own them.
var reservedHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true, "Keep-Alive": true,
	"Upgrade": true, "Te": true, "Trailer": true, "Proxy-Connection": true, "Proxy-Authorization": true,
	"X-Forwarded-For": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true, "Forwarded": true,
	"X-Request-Id": true, "X-Api-Key": true, "Cookie": true, "X-Real-Ip": true,
	"X-Http-Method-Override": true, "X-Http-Method": true, "X-Method-Override": true,
}

// decodeHeaderTemplates reads headers = { "X-Tenant" = "{lookup.tenant}" }.
func decodeHeaderTemplates(attr *hcl.Attribute, ctx *hcl.EvalContext) ([]policy.HeaderTemplate, hcl.Diagnostics) {
	pairs, diags := hcl.ExprMap(attr.Expr)
	if diags.HasErrors() {
		return nil, hcl.Diagnostics{errorAt(summaryWrongType,
			`headers must be an object literal such as { "X-Tenant" = "{lookup.tenant}" }.`, attr.Expr.Range(), attr.Range.Ptr())}
	}
	var out []policy.HeaderTemplate
	seen := map[string]bool{}
	for _, kv := range pairs {
		name, d := evalKey(kv.Key, ctx, attr.Range)
		diags = append(diags, d...)
		value, d2 := evalString("header value", kv.Value, attr.Range, ctx)
		diags = append(diags, d2...)
		if d.HasErrors() || d2.HasErrors() {
			continue
		}
		canon := textproto.CanonicalMIMEHeaderKey(name)
		// Upstream frameworks fold "_" into "-": check the folded name.
		folded := textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(name, "_", "-"))
		switch {
		case !validHeaderName(name):
			diags = append(diags, errorAt(summaryInvalidHeader, fmt.Sprintf("%q is not a valid header name.", name), kv.Key.Range(), attr.Range.Ptr()))
			continue
		case reservedHeaders[folded] || policy.IsIdentityOrCredentialHeader(name):
			diags = append(diags, errorAt(summaryInvalidHeader,
				fmt.Sprintf("Header %q is set by gatehouse or the HTTP layer and cannot be configured here.", canon), kv.Key.Range(), attr.Range.Ptr()))
			continue
		case seen[folded]:
			diags = append(diags, errorAt(summaryDuplicateKeyInMap, fmt.Sprintf("Header %q is set twice.", canon), kv.Key.Range(), attr.Range.Ptr()))
			continue
		}
		seen[folded] = true
		t, err := policy.ParseHeaderTemplate(canon, value)
		if err != nil {
			diags = append(diags, errorAt(summaryInvalidHeader, fmt.Sprintf("Header %q: %v.", canon, err), kv.Value.Range(), attr.Range.Ptr()))
			continue
		}
		out = append(out, t)
	}
	return out, diags
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c == '_' || c == '.' || c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' ||
			c == '*' || c == '+' || c == '^' || c == '`' || c == '|' || c == '~' ||
			('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')) {
			return false
		}
	}
	return true
}
