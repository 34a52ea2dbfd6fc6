package config

import (
	"github.com/hashicorp/hcl/v2"
)

// appSchema is the body of app "name" { … }.
var appSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "api_key_sha256", Required: true},
		{Name: "default_role"},
		{Name: "lookups"},
		{Name: "secret_lookups"},
		{Name: "active"},
	},
	Blocks: []hcl.BlockHeaderSchema{rateLimitBlock},
}

// decodeAppBlock decodes one app block. default_role is checked against the
// declared roles by Compile.
func decodeAppBlock(block *hcl.Block, ctx *hcl.EvalContext) (*App, hcl.Diagnostics) {
	a := &App{
		Name:      block.Labels[0],
		Active:    true,
		DeclRange: block.DefRange,
		NameRange: block.LabelRanges[0],
	}
	diags := checkName("app", a.Name, a.NameRange, a.DeclRange)
	content, d := block.Body.Content(appSchema)
	diags = append(diags, d...)
	for _, as := range appSchema.Attributes {
		attr := content.Attributes[as.Name]
		if attr == nil {
			continue
		}
		switch as.Name {
		case "api_key_sha256":
			a.KeySHA256, d = decodeKeyHash(attr, ctx)
			if !d.HasErrors() {
				a.KeyRange = attr.Expr.Range() // set only for a usable hash
			}
		case "default_role":
			a.DefaultRole, d = decodeString(attr, ctx)
			a.DefaultRoleRange = attr.Expr.Range()
			a.defaultRoleHidden = callsFunction(attr.Expr)
		case "lookups":
			a.Lookups, d = decodeLookupMap(attr, ctx)
		case "secret_lookups":
			a.Secrets, d = decodeLookupMap(attr, ctx)
			d = append(d, checkSecretClash(a.Lookups, a.Secrets, attr)...)
		case "active":
			a.Active, d = decodeBool(attr, ctx)
		}
		diags = append(diags, d...)
	}
	a.RateLimit, d = decodeRateLimit(content.Blocks, ctx)
	return a, append(diags, d...)
}

// decodeKeyHash reads the hex SHA-256 of an app's API key: exactly 64 hex
// digits, either case. The key itself never appears in configuration.
func decodeKeyHash(attr *hcl.Attribute, ctx *hcl.EvalContext) ([32]byte, hcl.Diagnostics) {
	return decodeSHA256(attr, ctx, summaryInvalidKeyHash, "key", "Run `gatehouse keygen` to create a key and its hash.")
}
