package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/settings"
)

// Compile checks the references between items (every grant's upstream,
// every app's default_role) and builds the immutable snapshot and, beside
// it, the runtime settings. It returns a nil snapshot and nil settings
// exactly when diags has errors. A Config whose Load reported errors is
// never compiled: Compile then returns at least one error.
func (c *Config) Compile() (*policy.Snapshot, *settings.Runtime, hcl.Diagnostics) {
	diags := c.checkReferences()
	if c.loadErrs && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  summaryInvalidConfig,
			Detail:   "Load reported errors for this configuration; fix them before it can be compiled.",
		})
	}
	if diags.HasErrors() {
		return nil, nil, diags
	}
	snap, rt, bd := c.build()
	return snap, rt, append(diags, bd...) // warnings, if any, come along
}

// checkReferences reports names that refer to nothing, at the reference.
func (c *Config) checkReferences() hcl.Diagnostics {
	var diags hcl.Diagnostics
	upstreams := make(map[string]bool, len(c.Upstreams))
	upstreamNames := make([]string, 0, len(c.Upstreams))
	for _, u := range c.Upstreams {
		upstreams[u.Name] = true
		upstreamNames = append(upstreamNames, u.Name)
	}
	roles := make(map[string]bool, len(c.Roles))
	roleNames := make([]string, 0, len(c.Roles))
	for _, r := range c.Roles {
		roles[r.Name] = true
		roleNames = append(roleNames, r.Name)
	}
	for _, r := range c.Roles {
		for _, g := range r.Grants {
			if upstreams[g.Upstream] {
				continue
			}
			diags = append(diags, errorAt(summaryUnknownUpstream,
				fmt.Sprintf("The %s block in role %q names upstream %q, which is not declared.%s Declare upstream %q or fix the label.",
					grantKind(g), r.Name, g.Upstream, didYouMean(g.Upstream, upstreamNames), g.Upstream),
				g.UpstreamRange, g.DeclRange.Ptr()))
		}
	}
	apps := make(map[string]bool, len(c.Apps))
	appNames := make([]string, 0, len(c.Apps))
	for _, a := range c.Apps {
		apps[a.Name] = true
		appNames = append(appNames, a.Name)
	}
	diags = append(diags, c.checkIdentities(apps, roles, appNames, roleNames)...)
	diags = append(diags, c.checkLookupRefs()...)
	for _, a := range c.Apps {
		if a.DefaultRole == "" || roles[a.DefaultRole] {
			continue
		}
		detail := fmt.Sprintf("App %q has default_role %q, which is not declared.%s Declare role %q or fix the name.",
			a.Name, a.DefaultRole, didYouMean(a.DefaultRole, roleNames), a.DefaultRole)
		if a.defaultRoleHidden {
			detail = fmt.Sprintf("App %q has a default_role (from a function call, not shown) that names no declared role. Declare the role or fix the value.", a.Name)
		}
		diags = append(diags, errorAt(summaryUnknownRole, detail,
			a.DefaultRoleRange, a.DeclRange.Ptr()))
	}
	return diags
}

func grantKind(g *Grant) string {
	if g.Deny {
		return "deny"
	}
	return "allow"
}

// build converts the checked Config into a policy.Spec and compiles it,
// and builds the runtime settings. policy.New re-checks its invariants; an
// error from it means a check above is missing, and it is reported rather
// than ignored.
func (c *Config) build() (*policy.Snapshot, *settings.Runtime, hcl.Diagnostics) {
	snap, err := policy.New(c.spec())
	if err != nil {
		return nil, nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  summaryInvalidConfig,
			Detail:   fmt.Sprintf("The configuration was refused while compiling: %v. Please report this: the config checks should have caught it with a position.", err),
		}}
	}
	return snap, c.runtime(), nil
}

// server returns the server block, or the defaults without one.
func (c *Config) server() *Server {
	if c.Server == nil {
		return defaultServer()
	}
	return c.Server
}

// runtime converts c's runtime settings (see package settings).
func (c *Config) runtime() *settings.Runtime {
	s := c.server()
	rt := &settings.Runtime{
		Listeners: settings.Listeners{
			Listen:            s.Listen,
			AdminListen:       s.AdminListen,
			MaxHeaderBytes:    s.MaxHeaderBytes,
			ReadHeaderTimeout: s.ReadHeaderTimeout,
			ReadTimeout:       s.ReadTimeout,
			WriteTimeout:      s.WriteTimeout,
			IdleTimeout:       s.IdleTimeout,
			ShutdownTimeout:   s.ShutdownTimeout,
			ShutdownDelay:     s.ShutdownDelay,
		},
		AdminTokenSHA256: s.AdminTokenSHA256,
	}
	if c.TLS != nil {
		rt.Listeners.TLS = c.TLS.Spec.Clone()
		rt.Listeners.TLSListen = s.TLSListen
		if rt.Listeners.TLSListen == "" {
			rt.Listeners.TLSListen = defaultTLSListen
		}
	}
	if c.Cluster != nil {
		rt.Cluster = c.Cluster.Spec.Clone()
	}
	c.providerSettings(rt)
	return rt
}

// spec converts c into a policy.Spec.
func (c *Config) spec() policy.Spec {
	s := c.server()
	spec := policy.Spec{
		Server: policy.Server{
			Production:      s.Production,
			TrustedProxies:  s.TrustedProxies,
			MaxBodyBytes:    s.MaxBodyBytes,
			BodyBufferBytes: s.BodyBufferBytes,
			IdentityHeaders: s.IdentityHeaders,
			StripHeaders:    s.StripHeaders,
			KeepHeaders:     s.KeepHeaders,
		},
		Lookups: make(map[string]any, len(c.Lookups)),
		Hash:    c.hash,
	}
	for _, l := range c.Lookups {
		if l.Secret {
			if spec.SecretLookups == nil {
				spec.SecretLookups = map[string]any{}
			}
			spec.SecretLookups[l.Name] = l.Value
			continue
		}
		spec.Lookups[l.Name] = l.Value
	}
	for _, u := range c.Upstreams {
		spec.Upstreams = append(spec.Upstreams, policy.UpstreamSpec{
			Name: u.Name, URL: u.URL, Prefix: u.Prefix, Timeout: u.Timeout,
			Active: u.Active, Public: u.Public, Headers: u.Headers, Origin: origin(u.DeclRange),
		})
	}
	for _, a := range c.Apps {
		as := policy.AppSpec{
			Name: a.Name, KeySHA256: a.KeySHA256, DefaultRole: a.DefaultRole,
			Lookups: a.Lookups, Secrets: a.Secrets, Active: a.Active, RateLimit: a.RateLimit, Origin: origin(a.DeclRange),
		}
		for _, k := range a.Keys {
			as.Keys = append(as.Keys, policy.KeySpec{SHA256: k.SHA256, Label: k.Label, NotAfter: k.NotAfter, Origin: origin(k.DeclRange)})
		}
		spec.Apps = append(spec.Apps, as)
	}
	for _, r := range c.Roles {
		rs := policy.RoleSpec{Name: r.Name, Active: r.Active, Lookups: r.Lookups, Secrets: r.Secrets, RateLimit: r.RateLimit, Origin: origin(r.DeclRange)}
		for _, g := range r.Grants {
			rs.Grants = append(rs.Grants, policy.GrantSpec{
				Deny: g.Deny, Upstream: g.Upstream, Paths: g.Paths, Verbs: g.Verbs,
				Records: g.Records, Filter: g.Filter, Program: g.Program, Plan: g.Plan, Fields: g.Fields, RateLimit: g.RateLimit, Origin: origin(g.DeclRange),
				DryRun: g.DryRun || r.DryRun, // a dry-run role: each of its grants
			})
		}
		spec.Roles = append(spec.Roles, rs)
	}
	for _, cr := range c.CORS {
		spec.CORS = append(spec.CORS, policy.CORSSpec{
			Path: cr.Path, AllowOrigins: cr.Origins, Methods: cr.Methods, Headers: cr.Headers,
			ExposedHeaders: cr.ExposedHeaders, MaxAge: cr.MaxAge, Credentials: cr.Credentials,
			Enabled: cr.Enabled, Origin: origin(cr.DeclRange),
		})
	}
	c.identitySpec(&spec)
	return spec
}
