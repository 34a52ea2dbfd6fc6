package config

import (
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
)

// fileSchema is the top level of every configuration file. Blocks not listed
// here (cluster) are not supported yet and are "Unsupported block type" errors, as are top-level
// attributes.
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
			s, d := decodeServerBlock(block, ctx)
			diags = append(diags, d...)
			out.Servers = append(out.Servers, s)
		case "lookups", "secret_lookups":
			l, d := decodeLookupsBlock(block, ctx)
			diags = append(diags, d...)
			for _, x := range l {
				x.Secret = block.Type == "secret_lookups"
			}
			out.Lookups = append(out.Lookups, l...)
		case "upstream":
			u, d := decodeUpstreamBlock(block, ctx)
			diags = append(diags, d...)
			out.Upstreams = append(out.Upstreams, u)
		case "app":
			a, d := decodeAppBlock(block, ctx)
			diags = append(diags, d...)
			out.Apps = append(out.Apps, a)
		case "role":
			r, d := decodeRoleBlock(block, ctx, fc)
			diags = append(diags, d...)
			out.Roles = append(out.Roles, r)
		case "user":
			u, d := decodeUserBlock(block, ctx)
			diags = append(diags, d...)
			out.Users = append(out.Users, u)
		case "admin":
			a, d := decodeAdminBlock(block, ctx)
			diags = append(diags, d...)
			out.Admins = append(out.Admins, a)
		case "sessions":
			s, d := decodeSessionsBlock(block, ctx, basedir)
			diags = append(diags, d...)
			out.Sessions = append(out.Sessions, s)
		case "ldap":
			l, d := decodeLDAPBlock(block, ctx, basedir)
			diags = append(diags, d...)
			out.LDAP = append(out.LDAP, l)
		case "oauth":
			o, d := decodeOAuthBlock(block, ctx)
			diags = append(diags, d...)
			out.OAuth = append(out.OAuth, o)
		case "tls":
			t, d := decodeTLSBlock(block, ctx, basedir)
			diags = append(diags, d...)
			out.TLS = append(out.TLS, t)
		case "cors":
			c, d := decodeCORSBlock(block, ctx)
			diags = append(diags, d...)
			out.CORS = append(out.CORS, c)
		}
	}
	return out, diags
}
