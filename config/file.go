package config

import (
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
)

// fileSchema is the top level of every configuration file. Blocks not listed
// here are "Unsupported block type" errors, as are top-level attributes.
var fileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "server"},
		{Type: "lookups"},
		{Type: "secret_lookups"},
		{Type: "upstream", LabelNames: []string{"name"}},
		{Type: "app", LabelNames: []string{"name"}},
		{Type: "role", LabelNames: []string{"name"}},
		{Type: "user", LabelNames: []string{"name"}},
		{Type: "admin", LabelNames: []string{"name"}},
		{Type: "sessions"},
		{Type: "ldap", LabelNames: []string{"name"}},
		{Type: "oauth", LabelNames: []string{"name"}},
		{Type: "tls"},
		{Type: "cors", LabelNames: []string{"path"}},
		{Type: "cluster"},
	},
}

// decodeFile decodes the blocks of one parsed file. Expressions are
// evaluated with env() and file(), the latter relative to the file's
// directory. It returns everything it could decode along with diagnostics.
func decodeFile(name string, f *hcl.File, fc *filterCache) (*File, hcl.Diagnostics) {
	out := &File{Name: name}
	basedir := filepath.Dir(name)
	ctx := evalContext(basedir)
	content, diags := f.Body.Content(fileSchema)
	for _, block := range content.Blocks {
		switch block.Type {
		case "server":
			into(&out.Servers, &diags)(decodeServerBlock(block, ctx))
		case "lookups", "secret_lookups":
			l, d := decodeLookupsBlock(block, ctx)
			diags = append(diags, d...)
			for _, x := range l {
				x.Secret = block.Type == "secret_lookups"
			}
			out.Lookups = append(out.Lookups, l...)
		case "upstream":
			into(&out.Upstreams, &diags)(decodeUpstreamBlock(block, ctx))
		case "app":
			into(&out.Apps, &diags)(decodeAppBlock(block, ctx))
		case "role":
			into(&out.Roles, &diags)(decodeRoleBlock(block, ctx, fc))
		case "user":
			into(&out.Users, &diags)(decodeUserBlock(block, ctx))
		case "admin":
			into(&out.Admins, &diags)(decodeAdminBlock(block, ctx))
		case "sessions":
			into(&out.Sessions, &diags)(decodeSessionsBlock(block, ctx, basedir))
		case "ldap":
			into(&out.LDAP, &diags)(decodeLDAPBlock(block, ctx, basedir))
		case "oauth":
			into(&out.OAuth, &diags)(decodeOAuthBlock(block, ctx))
		case "tls":
			into(&out.TLS, &diags)(decodeTLSBlock(block, ctx, basedir))
		case "cors":
			into(&out.CORS, &diags)(decodeCORSBlock(block, ctx))
		case "cluster":
			into(&out.Cluster, &diags)(decodeClusterBlock(block, ctx, basedir))
		}
	}
	return out, diags
}

// into returns a function that keeps one decoded block in dst and its
// diagnostics in diags: into(&out.Apps, &diags)(decodeAppBlock(block, ctx)).
func into[T any](dst *[]T, diags *hcl.Diagnostics) func(T, hcl.Diagnostics) {
	return func(v T, d hcl.Diagnostics) {
		*diags = append(*diags, d...)
		*dst = append(*dst, v)
	}
}
