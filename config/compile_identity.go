package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/settings"
)

// checkIdentities reports references from users and login providers to
// apps and roles that do not exist, and identity blocks without a sessions
// block.
func (c *Config) checkIdentities(apps, roles map[string]bool, appNames, roleNames []string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if c.Sessions == nil {
		need := func(kind, name string, at, decl hcl.Range) {
			diags = append(diags, errorAt(summaryMissingSessions,
				fmt.Sprintf("%s %q can log in only when sessions are configured. Add a sessions block with signing_key = env(\"GATEHOUSE_SIGNING_KEY\").", kind, name),
				at, decl.Ptr()))
		}
		for _, u := range c.Users {
			need("User", u.Name, u.NameRange, u.DeclRange)
			break
		}
		for _, a := range c.Admins {
			need("Admin", a.Name, a.NameRange, a.DeclRange)
			break
		}
		for _, l := range c.LDAP {
			need("LDAP provider", l.Spec.Name, l.NameRange, l.DeclRange)
			break
		}
		for _, o := range c.OAuth {
			need("OAuth provider", o.Spec.Name, o.NameRange, o.DeclRange)
			break
		}
	}
	if c.Sessions != nil {
		for _, u := range c.Upstreams {
			if u.Prefix == "/auth" || strings.HasPrefix(u.Prefix, "/auth/") {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagWarning,
					Summary:  "Prefix shadowed by login endpoints",
					Detail:   fmt.Sprintf("With a sessions block, gatehouse serves /auth/* itself; upstream %q (prefix %q) gets no request below /auth/. Choose another prefix.", u.Name, u.Prefix),
					Subject:  u.PrefixRange.Ptr(),
				})
			}
		}
	}
	checkApp := func(owner string, r ref) {
		if apps[r.Name] {
			return
		}
		detail := fmt.Sprintf("%s names app %q, which is not declared.%s Declare app %q or fix the name.", owner, r.Name, didYouMean(r.Name, appNames), r.Name)
		if r.Hidden {
			detail = fmt.Sprintf("%s names an app (from a function call, not shown) that is not declared.", owner)
		}
		diags = append(diags, errorAt(summaryUnknownApp, detail, r.Range, nil))
	}
	checkRole := func(owner string, r ref) {
		if r.Name == "" && r.Range == (hcl.Range{}) || roles[r.Name] {
			return
		}
		detail := fmt.Sprintf("%s names role %q, which is not declared.%s Declare role %q or fix the name.", owner, r.Name, didYouMean(r.Name, roleNames), r.Name)
		if r.Hidden {
			detail = fmt.Sprintf("%s names a role (from a function call, not shown) that is not declared.", owner)
		}
		diags = append(diags, errorAt(summaryUnknownRole, detail, r.Range, nil))
	}
	for _, u := range c.Users {
		for _, rr := range u.Roles {
			checkApp(fmt.Sprintf("User %q", u.Name), rr.App)
			checkRole(fmt.Sprintf("User %q", u.Name), rr.Role)
		}
	}
	for _, l := range c.LDAP {
		owner := fmt.Sprintf("LDAP provider %q", l.Spec.Name)
		seenApp := map[string]bool{}
		for _, gr := range l.Roles {
			if !seenApp[gr.App.Name] {
				seenApp[gr.App.Name] = true
				checkApp(owner, gr.App)
			}
			checkRole(owner, gr.Role)
		}
		checkRole(owner, l.DefaultRole)
	}
	for _, o := range c.OAuth {
		owner := fmt.Sprintf("OAuth provider %q", o.Spec.Name)
		if o.App.Range != (hcl.Range{}) {
			checkApp(owner, o.App)
		}
		checkRole(owner, o.DefaultRole)
		if o.Spec.Provider == "x" && (o.Accounts.UsersAttr != nil || o.Accounts.MatchUsername) {
			users, userNames := userSet(c.Users)
			diags = append(diags, c.checkAccountUsers(o, users, userNames)...)
		}
	}
	return diags
}

// identitySpec adds users, admins, sessions and providers to spec.
func (c *Config) identitySpec(spec *policy.Spec) {
	if c.Sessions != nil {
		ss := c.Sessions.Spec
		spec.Sessions = &ss
	}
	for _, u := range c.Users {
		us := policy.UserSpec{Name: u.Name, Password: u.Password, Email: u.Email, Lookups: u.Lookups, Secrets: u.Secrets,
			Active: u.Active, RateLimit: u.RateLimit, Origin: origin(u.DeclRange), Roles: make(map[string]string, len(u.Roles))}
		for _, rr := range u.Roles {
			us.Roles[rr.App.Name] = rr.Role.Name
		}
		spec.Users = append(spec.Users, us)
	}
	for _, a := range c.Admins {
		spec.Admins = append(spec.Admins, policy.AdminSpec{Name: a.Name, Password: a.Password, Active: a.Active, Origin: origin(a.DeclRange)})
	}
	for _, l := range c.LDAP {
		ls := policy.LDAPSpec{Name: l.Spec.Name, DefaultRole: l.DefaultRole.Name, Origin: origin(l.DeclRange),
			Roles: make(map[string][]policy.GroupRole), Lookups: slices.Sorted(maps.Keys(l.Spec.Lookups))}
		for _, gr := range l.Roles {
			ls.Roles[gr.App.Name] = append(ls.Roles[gr.App.Name], policy.GroupRole{Group: gr.Group, Role: gr.Role.Name})
		}
		spec.LDAP = append(spec.LDAP, ls)
	}
	for _, o := range c.OAuth {
		os := policy.OAuthSpec{Name: o.Spec.Name, App: o.App.Name,
			DefaultRole: o.DefaultRole.Name, Origin: origin(o.DeclRange), Lookups: slices.Sorted(maps.Keys(o.Spec.Lookups))}
		o.Accounts.spec(&os, o.Spec.Provider)
		spec.OAuth = append(spec.OAuth, os)
	}
}

// providerSettings adds the login providers' connection settings to rt,
// by block name.
func (c *Config) providerSettings(rt *settings.Runtime) {
	if len(c.LDAP) > 0 {
		rt.LDAP = make(map[string]settings.LDAP, len(c.LDAP))
	}
	for _, l := range c.LDAP {
		ls := l.Spec
		ls.Lookups = maps.Clone(l.Spec.Lookups)
		rt.LDAP[ls.Name] = ls
	}
	if len(c.OAuth) > 0 {
		rt.OAuth = make(map[string]settings.OAuth, len(c.OAuth))
	}
	for _, o := range c.OAuth {
		os := o.Spec
		os.Scopes = slices.Clone(o.Spec.Scopes)
		os.Lookups = maps.Clone(o.Spec.Lookups)
		rt.OAuth[os.Name] = os
	}
}
