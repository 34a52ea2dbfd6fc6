package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// The oauth block's account mapping: users = { "<provider user id>" =
// "local-user" } and match_username = true, for provider "x", which
// vouches for no email. X's user ids never change; a username can be
// changed by its owner and, once given up, taken by someone else, which is
// why the id table is the default and username matching is opt-in.

// accountRef is one "provider user id = local user" entry of users.
type accountRef struct {
	ID       string
	IDRange  hcl.Range
	User     ref
	KeyRange hcl.Range
}

// oauthAccounts is what an oauth block says about mapping accounts.
type oauthAccounts struct {
	Users         []accountRef
	MatchUsername bool

	UsersAttr, MatchAttr *hcl.Attribute
	usersBad             bool // users had errors, already reported
}

// decodeAccounts reads users = { "2244994945" = "alice", … }: X user ids
// (decimal numbers, quoted or bare) to local user names, in written order.
func decodeAccounts(attr *hcl.Attribute, ctx *hcl.EvalContext) ([]accountRef, hcl.Diagnostics) {
	pairs, diags := hcl.ExprMap(attr.Expr)
	if diags.HasErrors() {
		return nil, hcl.Diagnostics{errorAt(summaryWrongType,
			"users must be an object literal such as { \"2244994945\" = \"alice\" }: the provider's user id = local user name.",
			attr.Expr.Range(), attr.Range.Ptr())}
	}
	var out []accountRef
	seen := map[string]hcl.Range{}
	for _, kv := range pairs {
		id, d := evalKey(kv.Key, ctx, attr.Range)
		diags = append(diags, d...)
		name, d2 := evalString("user", kv.Value, attr.Range, ctx)
		diags = append(diags, d2...)
		if d.HasErrors() || d2.HasErrors() {
			continue
		}
		if !policy.ValidXUserID(id) {
			diags = append(diags, errorAt(summaryInvalidAccountID,
				fmt.Sprintf("%s is not an X user id. users is keyed by the numeric id X gives every account (such as \"2244994945\"), which never changes; a username can be changed and taken over by someone else. The log of a refused login (oauth_unknown_user) names the account's id. To map by username instead, set match_username = true.", shown(kv.Key, id)),
				kv.Key.Range(), attr.Range.Ptr()))
			continue
		}
		if first, dup := seen[id]; dup {
			diags = append(diags, errorAt(summaryDuplicateKeyInMap,
				fmt.Sprintf("X user id %q is listed twice in users; %s.", id, firstDeclared(first)),
				kv.Key.Range(), attr.Range.Ptr()))
			continue
		}
		seen[id] = kv.Key.Range()
		out = append(out, accountRef{
			ID: id, IDRange: kv.Key.Range(), KeyRange: kv.Key.Range(),
			User: ref{Name: name, Range: kv.Value.Range(), Hidden: callsFunction(kv.Value)},
		})
	}
	return out, diags
}

// checkAccounts checks the account mapping against the provider: only
// "x" maps accounts, and an x block must map some (it admits nobody
// else); its default_role would never apply.
func checkAccounts(o *OAuth, defaultRoleAttr *hcl.Attribute) hcl.Diagnostics {
	var diags hcl.Diagnostics
	a := &o.Accounts
	if o.Spec.Provider != "x" {
		if o.Spec.Provider == "" {
			return nil // already reported
		}
		for _, attr := range []*hcl.Attribute{a.UsersAttr, a.MatchAttr} {
			if attr != nil {
				diags = append(diags, errorAt(summaryUnusedSetting,
					fmt.Sprintf("%s maps accounts of provider \"x\", which vouches for no email; provider %q users are mapped to local users by their verified email. Remove it.", attr.Name, o.Spec.Provider),
					attr.Range, nil))
			}
		}
		return diags
	}
	if len(a.Users) == 0 && !a.MatchUsername && !a.usersBad {
		// No mapping: the block would admit nobody.
		subject := o.DeclRange
		switch {
		case a.UsersAttr != nil:
			subject = a.UsersAttr.Expr.Range()
		case a.MatchAttr != nil:
			subject = a.MatchAttr.Expr.Range()
		}
		diags = append(diags, errorAt(summaryMissingRequired,
			fmt.Sprintf("oauth %q (provider \"x\") admits only X accounts mapped to local users, since X vouches for no email, and maps none: add users = { \"<X user id>\" = \"alice\" } (the numeric id, which never changes), or match_username = true to map an X username to the local user of the same name (weaker: a username can be changed and taken over).", o.Spec.Name),
			subject, o.DeclRange.Ptr()))
	}
	if defaultRoleAttr != nil {
		diags = append(diags, errorAt(summaryUnusedSetting,
			"Every X login is a mapped local user's, with that user's roles (or the app's default_role); the block's default_role would never apply. Remove it.",
			defaultRoleAttr.Range, nil))
	}
	return diags
}

// checkAccountUsers reports users entries that name no local user and,
// with match_username, local names that differ only in case (a username
// would match both).
func (c *Config) checkAccountUsers(o *OAuth, users map[string]bool, userNames []string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, acc := range o.Accounts.Users {
		if users[acc.User.Name] {
			continue
		}
		detail := fmt.Sprintf("users of oauth %q maps X user id %s to user %q, which is not declared.%s Declare user %q or fix the name.", o.Spec.Name, acc.ID, acc.User.Name, didYouMean(acc.User.Name, userNames), acc.User.Name)
		if acc.User.Hidden {
			detail = fmt.Sprintf("users of oauth %q maps X user id %s to a user (from a function call, not shown) that is not declared.", o.Spec.Name, acc.ID)
		}
		diags = append(diags, errorAt(summaryUnknownUser, detail, acc.User.Range, o.Accounts.UsersAttr.Range.Ptr()))
	}
	if !o.Accounts.MatchUsername {
		return diags
	}
	byFold := map[string]*User{}
	for _, u := range c.Users {
		k := strings.ToLower(u.Name)
		if other, dup := byFold[k]; dup {
			diags = append(diags, errorAt(summaryAmbiguousUsername,
				fmt.Sprintf("With match_username, X usernames (which ignore case) are matched to local user names ignoring case, and users %q (%s) and %q (%s) differ only in case. Rename one, or map by id with users instead.", other.Name, pos(other.NameRange), u.Name, pos(u.NameRange)),
				o.Accounts.MatchAttr.Expr.Range(), o.Accounts.MatchAttr.Range.Ptr()))
			continue
		}
		byFold[k] = u
	}
	return diags
}

// spec sets the account mapping of a provider's policy: provider "x"
// admits only mapped accounts.
func (a *oauthAccounts) spec(os *policy.OAuthSpec, provider string) {
	os.MappedOnly = provider == "x"
	os.MatchUsername = a.MatchUsername
	if len(a.Users) > 0 {
		os.Accounts = make(map[string]string, len(a.Users))
	}
	for _, acc := range a.Users {
		os.Accounts[acc.ID] = acc.User.Name
	}
}

// userSet returns the declared user names, as a set and sorted list.
func userSet(users []*User) (map[string]bool, []string) {
	set := make(map[string]bool, len(users))
	names := make([]string, 0, len(users))
	for _, u := range users {
		if !set[u.Name] {
			set[u.Name] = true
			names = append(names, u.Name)
		}
	}
	slices.Sort(names)
	return set, names
}
