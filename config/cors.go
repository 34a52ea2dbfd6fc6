package config

import (
	"fmt"
	"math/big"
	"net/textproto"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// CORS is a decoded cors "<path glob>" block.
type CORS struct {
	Path           policy.Glob
	Origins        []policy.OriginPattern
	Methods        policy.Verb
	Headers        []string
	ExposedHeaders []string
	MaxAge         int // -1 = not set
	Credentials    bool
	Enabled        bool

	DeclRange        hcl.Range
	PathRange        hcl.Range // the label
	CredentialsRange hcl.Range // zero unless set
	anyOrigin        *hcl.Range
}

// corsSchema is the body of cors "<path glob>" { … }.
var corsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "origins", Required: true},
		{Name: "methods"},
		{Name: "headers"},
		{Name: "exposed_headers"},
		{Name: "max_age"},
		{Name: "credentials"},
		{Name: "enabled"},
	},
}

// defaultCORSMethods are the methods of a cors block without methods: the
// ones a browser sends without asking (GET, HEAD, POST).
const defaultCORSMethods = policy.VerbGET | policy.VerbHEAD | policy.VerbPOST

// decodeCORSBlock decodes one cors block. The label is a path glob over the
// public request path, as in grants. An origin "*" together with
// credentials = true is refused here, at the "*".
func decodeCORSBlock(block *hcl.Block, ctx *hcl.EvalContext) (*CORS, hcl.Diagnostics) {
	c := &CORS{
		Methods:   defaultCORSMethods,
		MaxAge:    -1,
		Enabled:   true,
		DeclRange: block.DefRange,
		PathRange: block.LabelRanges[0],
	}
	var diags hcl.Diagnostics
	g, err := policy.ParseGlob(block.Labels[0])
	if err != nil {
		diags = append(diags, errorAt(summaryInvalidGlob,
			fmt.Sprintf("cors path %q: %s. The label is a path glob over the public request path, such as \"/hr/**\" (\"*\" is one segment, \"**\" any number).", block.Labels[0], err),
			c.PathRange, c.DeclRange.Ptr()))
	} else {
		c.Path = g
	}
	content, d := block.Body.Content(corsSchema)
	diags = append(diags, d...)
	for _, as := range corsSchema.Attributes {
		attr := content.Attributes[as.Name]
		if attr == nil {
			continue
		}
		switch as.Name {
		case "origins":
			c.Origins, c.anyOrigin, d = decodeOrigins(attr, ctx)
		case "methods":
			c.Methods, d = decodeCORSMethods(attr, ctx)
		case "headers":
			c.Headers, d = decodeHeaderNames(attr, ctx)
		case "exposed_headers":
			c.ExposedHeaders, d = decodeHeaderNames(attr, ctx)
		case "max_age":
			c.MaxAge, d = decodeMaxAge(attr, ctx)
		case "credentials":
			c.Credentials, d = decodeBool(attr, ctx)
			c.CredentialsRange = attr.Range
		case "enabled":
			c.Enabled, d = decodeBool(attr, ctx)
		}
		diags = append(diags, d...)
	}
	if c.Credentials && c.anyOrigin != nil {
		diags = append(diags, errorAt(summaryAnyOriginCredentials,
			fmt.Sprintf(`origins = ["*"] cannot be combined with credentials = true (%s): browsers refuse "Access-Control-Allow-Origin: *" on credentialed requests, and echoing every origin instead would let any website read your users' responses. List the origins that may send credentials, or drop credentials.`, pos(c.CredentialsRange)),
			*c.anyOrigin, c.DeclRange.Ptr()))
	}
	return c, diags
}

// decodeOrigins reads a non-empty list of origins with policy.ParseOrigin,
// each error at its element. It returns the range of a "*" entry, if any.
func decodeOrigins(attr *hcl.Attribute, ctx *hcl.EvalContext) ([]policy.OriginPattern, *hcl.Range, hcl.Diagnostics) {
	items, diags := decodeStringList(attr, ctx)
	if diags.HasErrors() {
		return nil, nil, diags
	}
	if len(items) == 0 {
		return nil, nil, append(diags, errorAt(summaryEmptyList,
			`origins is empty, so no page could use this rule. List origins such as "https://portal.example.com" or "https://*.example.com".`,
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	var out []policy.OriginPattern
	var anyRange *hcl.Range
	seen := map[string]hcl.Range{}
	for _, it := range items {
		o, err := policy.ParseOrigin(it.Value)
		if err != nil {
			diags = append(diags, errorAt(summaryInvalidOrigin,
				fmt.Sprintf("%s is not an origin: %s. Write scheme://host[:port] such as \"https://portal.example.com\", a wildcard such as \"https://*.example.com\", or \"*\" alone.", shown(it.Expr, it.Value), shownErr(it.Expr, err)),
				it.Expr.Range(), attr.Range.Ptr()))
			continue
		}
		r := it.Expr.Range()
		if first, dup := seen[o.String()]; dup {
			diags = append(diags, errorAt(summaryDuplicateKeyInMap,
				fmt.Sprintf("Origin %q is listed twice (after normalization); %s. Remove one.", o.String(), firstDeclared(first)),
				r, attr.Range.Ptr()))
			continue
		}
		seen[o.String()] = r
		if o.Any() {
			anyRange = &r
		}
		out = append(out, o)
	}
	if anyRange != nil && len(items) > 1 {
		diags = append(diags, errorAt(summaryInvalidOrigin,
			`"*" allows every origin, so it must be the only entry of origins. Remove "*" or the other entries.`,
			*anyRange, attr.Range.Ptr()))
	}
	return out, anyRange, diags
}

// decodeCORSMethods reads a non-empty list of methods, as grants name them.
func decodeCORSMethods(attr *hcl.Attribute, ctx *hcl.EvalContext) (policy.Verb, hcl.Diagnostics) {
	items, diags := decodeStringList(attr, ctx)
	if diags.HasErrors() {
		return 0, diags
	}
	if len(items) == 0 {
		return 0, append(diags, errorAt(summaryEmptyList,
			`methods is empty, so no cross-origin request could pass. List methods such as ["GET", "PUT"], or remove the argument for GET, HEAD and POST.`,
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	verbs, d := verbsOf(items, attr, "Methods", "a method a cors block can allow")
	return verbs, append(diags, d...)
}

// decodeHeaderNames reads a list of header names (may be empty), in
// canonical form, refusing "*" and duplicates.
func decodeHeaderNames(attr *hcl.Attribute, ctx *hcl.EvalContext) ([]string, hcl.Diagnostics) {
	items, diags := decodeStringList(attr, ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	var out []string
	seen := map[string]bool{}
	for _, it := range items {
		switch canon := textproto.CanonicalMIMEHeaderKey(it.Value); {
		case it.Value == "*":
			diags = append(diags, errorAt(summaryInvalidHeader,
				fmt.Sprintf(`%s does not take "*": list the header names, such as ["Content-Type", "X-API-Key"].`, attr.Name),
				it.Expr.Range(), attr.Range.Ptr()))
		case !policy.ValidHeaderName(it.Value):
			diags = append(diags, errorAt(summaryInvalidHeader,
				fmt.Sprintf("%s is not a valid header name.", shown(it.Expr, it.Value)),
				it.Expr.Range(), attr.Range.Ptr()))
		case seen[canon]:
			diags = append(diags, errorAt(summaryDuplicateKeyInMap,
				fmt.Sprintf("Header %q is listed twice in %s.", canon, attr.Name),
				it.Expr.Range(), attr.Range.Ptr()))
		default:
			seen[canon] = true
			out = append(out, canon)
		}
	}
	return out, diags
}

// decodeMaxAge reads a whole number of seconds from 0 to policy.MaxCORSMaxAge.
func decodeMaxAge(attr *hcl.Attribute, ctx *hcl.EvalContext) (int, hcl.Diagnostics) {
	v, diags := evalAs(attr.Name, attr.Expr, attr.Range, ctx, cty.Number)
	if diags.HasErrors() {
		return -1, diags
	}
	bf := v.AsBigFloat()
	n, acc := bf.Int64()
	if !bf.IsInt() || acc != big.Exact || n < 0 || n > policy.MaxCORSMaxAge {
		return -1, append(diags, errorAt(summaryInvalidMaxAge,
			fmt.Sprintf("max_age = %s is not a whole number of seconds from 0 to %d (one day). Browsers cap it lower anyway (Chromium at 7200).", shownNumber(attr.Expr, bf), policy.MaxCORSMaxAge),
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	return int(n), diags
}

// checkCORSPaths reports cors blocks with the same path glob and pairs of
// equally specific globs that overlap (either could apply to some path), at
// the later block's label with Detail naming the first. It returns the
// blocks to keep: duplicates and blocks without a valid glob are dropped.
func checkCORSPaths(blocks []*CORS) ([]*CORS, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var kept []*CORS
	for _, c := range blocks {
		if c.Path.String() == "" { // invalid glob, already reported
			continue
		}
		ok := true
		for _, first := range kept {
			if first.Path.String() == c.Path.String() {
				diags = append(diags, errorAt(summaryDuplicateCORS,
					fmt.Sprintf("cors %q is declared twice; %s. Merge the two blocks.", c.Path.String(), firstDeclared(first.PathRange)),
					c.PathRange, c.DeclRange.Ptr()))
				ok = false
				break
			}
			if policy.CompareGlobSpecificity(first.Path, c.Path) != 0 {
				continue
			}
			if ex, overlap := policy.OverlapExample(first.Path, c.Path); overlap {
				diags = append(diags, errorAt(summaryAmbiguousCORS,
					fmt.Sprintf("cors %q and cors %q (%s) are equally specific and both match some paths, such as %q, so neither can win. Make one more specific (more literal segments, fewer \"**\", then fewer \"*\"), or split them so they do not overlap.",
						c.Path.String(), first.Path.String(), firstDeclared(first.PathRange), ex),
					c.PathRange, c.DeclRange.Ptr()))
				ok = false
				break
			}
		}
		if ok {
			kept = append(kept, c)
		}
	}
	return kept, diags
}
