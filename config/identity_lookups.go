package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/hashicorp/hcl/v2"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// Lookups captured from identity sources: lookups = { name = "source" } in
// ldap blocks (a directory attribute) and oauth blocks (an ID token or
// userinfo claim). The names are user-scope lookups; the sources are
// connection settings (settings.LDAP.Lookups, settings.OAuth.Lookups).

// lookupSource says what the values of a lookups map name.
type lookupSource struct {
	what    string // "directory attribute", "claim"
	example string // a whole example attribute
	check   func(string) string
}

var (
	ldapSource = lookupSource{
		what:    "directory attribute",
		example: `lookups = { department = "departmentNumber", region = "l" }`,
		check:   checkLDAPAttribute,
	}
	claimSource = lookupSource{
		what:    "claim",
		example: `lookups = { tenant = "org_id" }`,
		check:   checkClaimName,
	}
)

// ldapAttrRE is an attribute type by name (RFC 4512 1.4 descr), without
// options (a ";binary" value would not be text) and not by OID: servers
// return an attribute under its name, whatever the search asked for.
var ldapAttrRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*$`)

// credentialAttributes hold credentials; a lookup reaches upstreams
// (header templates) and is carried in the session token.
var credentialAttributes = []string{"userpassword", "authpassword", "unicodepwd", "sambantpassword", "sambalmpassword"}

func checkLDAPAttribute(a string) string {
	switch {
	case !ldapAttrRE.MatchString(a):
		return "is not an LDAP attribute name such as \"departmentNumber\" (letters, digits and dashes, starting with a letter; no options, no OIDs)"
	case slices.Contains(credentialAttributes, strings.ToLower(a)):
		return "holds credentials; a lookup reaches filters, upstream headers and the session token"
	}
	return ""
}

const maxClaimNameBytes = 256

func checkClaimName(c string) string {
	switch {
	case len(c) > maxClaimNameBytes:
		return fmt.Sprintf("is longer than %d bytes", maxClaimNameBytes)
	case strings.ContainsFunc(c, unicode.IsControl):
		return "contains control characters"
	}
	return ""
}

// decodeLookupSources reads lookups = { name = "source", … } of an ldap or
// oauth block: lookup names as in every other lookups map, sources
// non-empty and valid for src. It returns the map and where each name is
// written.
func decodeLookupSources(attr *hcl.Attribute, ctx *hcl.EvalContext, src lookupSource) (map[string]string, map[string]hcl.Range, hcl.Diagnostics) {
	pairs, diags := hcl.ExprMap(attr.Expr)
	if diags.HasErrors() {
		return nil, nil, hcl.Diagnostics{errorAt(summaryWrongType,
			fmt.Sprintf("lookups must be an object literal such as %s: lookup name = %s.", strings.TrimPrefix(src.example, "lookups = "), src.what),
			attr.Expr.Range(), attr.Range.Ptr())}
	}
	out := make(map[string]string, len(pairs))
	ranges := make(map[string]hcl.Range, len(pairs))
	for _, kv := range pairs {
		name, d := lookupName(kv, attr, ctx, ranges)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		source, d := evalString(src.what, kv.Value, attr.Range, ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		if strings.TrimSpace(source) == "" {
			diags = append(diags, errorAt(summaryEmptyValue,
				fmt.Sprintf("Lookup %q names no %s. Write the %s whose value it takes: %s.", name, src.what, src.what, src.example),
				kv.Value.Range(), attr.Range.Ptr()))
			continue
		}
		if why := src.check(source); why != "" {
			diags = append(diags, errorAt(summaryInvalidLookupSource,
				fmt.Sprintf("Lookup %q: %s %s.", name, shown(kv.Value, source), why),
				kv.Value.Range(), attr.Range.Ptr()))
			continue
		}
		out[name] = source
		ranges[name] = kv.Key.Range()
	}
	if len(out) > policy.MaxIdentityLookups {
		diags = append(diags, errorAt(summaryInvalidLookupSource,
			fmt.Sprintf("lookups has %d entries; a login provider captures at most %d (they travel in the session token).", len(out), policy.MaxIdentityLookups),
			attr.Expr.Range(), attr.Range.Ptr()))
		return nil, nil, diags
	}
	return out, ranges, diags
}

// checkOAuthLookups refuses lookups on an oauth block whose provider has
// no ID token or userinfo claims to take them from.
func checkOAuthLookups(o *OAuth, attr *hcl.Attribute) hcl.Diagnostics {
	if attr == nil || len(o.Spec.Lookups) == 0 {
		return nil
	}
	switch o.Spec.Provider {
	case "oidc", "google", "":
		return nil
	}
	return hcl.Diagnostics{errorAt(summaryUnusedSetting,
		fmt.Sprintf("lookups take ID token or userinfo claims; provider %q has neither (only \"oidc\" and \"google\" do). Remove lookups.", o.Spec.Provider),
		attr.NameRange, attr.Range.Ptr())}
}
