package config

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/password"
	"github.com/gatehouse-dev/gatehouse/settings"
)

// Identity blocks: user, admin, sessions, ldap, oauth.

var userSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "password_hash"},
		{Name: "email"},
		{Name: "roles"},
		{Name: "lookups"},
		{Name: "secret_lookups"},
		{Name: "active"},
	},
	Blocks: []hcl.BlockHeaderSchema{rateLimitBlock},
}

var adminSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "password_hash", Required: true},
		{Name: "active"},
	},
}

var sessionsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "signing_key"},
		{Name: "signing_key_file"},
		{Name: "ttl"},
		{Name: "refresh_ttl"},
		{Name: "cache_size"},
		{Name: "issuer"},
		{Name: "cookie_secure"},
	},
}

var ldapSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "url", Required: true},
		{Name: "start_tls"},
		{Name: "ca_file"},
		{Name: "bind_dn"},
		{Name: "bind_password"},
		{Name: "user_base", Required: true},
		{Name: "user_filter"},
		{Name: "group_base"},
		{Name: "group_filter"},
		{Name: "group_attr"},
		{Name: "email_attr"},
		{Name: "timeout"},
		{Name: "roles"},
		{Name: "default_role"},
		{Name: "lookups"},
	},
}

var oauthSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "provider"},
		{Name: "client_id", Required: true},
		{Name: "client_secret"},
		{Name: "token_endpoint_auth_method"},
		{Name: "private_key"},
		{Name: "private_key_id"},
		{Name: "client_assertion_audience"},
		{Name: "clock_skew"},
		{Name: "end_session"},
		{Name: "post_logout_redirect_url"},
		{Name: "redirect_url", Required: true},
		{Name: "issuer"},
		{Name: "scopes"},
		{Name: "auth_url"},
		{Name: "token_url"},
		{Name: "api_url"},
		{Name: "app", Required: true},
		{Name: "default_role"},
		{Name: "lookups"},
		{Name: "users"},
		{Name: "match_username"},
	},
}

// Defaults of the sessions block.
const (
	defaultSessionTTL   = time.Hour
	defaultRefreshTTL   = 24 * time.Hour
	defaultCacheSize    = 100_000
	defaultIssuer       = "gatehouse"
	minSigningKeyBytes  = 32
	defaultLDAPTimeout  = 5 * time.Second
	defaultClockSkew    = 60 * time.Second
	maxClockSkew        = 10 * time.Minute
	defaultLDAPFilter   = "(uid={username})"
	defaultLDAPGroupAtt = "cn"
)

// oauthURLHint ends complaints about the URLs of an oauth block.
const oauthURLHint = "Write an absolute https URL, as the provider documents it."

// oauthProviders are the values of oauth.provider.
var oauthProviders = []string{"oidc", "google", "github", "facebook", "x"}

// oauthAuthMethods are the values of oauth.token_endpoint_auth_method.
var oauthAuthMethods = []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}

// oauthAssertionAudiences are the values of oauth.client_assertion_audience.
var oauthAssertionAudiences = []string{"token_endpoint", "issuer"}

// ref is a name that refers to another block, with where it was written.
type ref struct {
	Name   string
	Range  hcl.Range
	Hidden bool // from a function call: do not echo
}

// User is a decoded user block.
type User struct {
	Name     string
	Password *password.Hash
	Email    string
	Roles    []roleRef // app -> role, in written order
	Lookups  map[string]any
	Secrets  map[string]any // secret_lookups
	Active   bool
	// RateLimit is the user's rate_limit block; nil = none.
	RateLimit *policy.RateLimitSpec

	DeclRange  hcl.Range
	NameRange  hcl.Range
	EmailRange hcl.Range
}

// roleRef is one "app = role" entry.
type roleRef struct {
	App  ref
	Role ref
}

// Admin is a decoded admin block.
type Admin struct {
	Name     string
	Password *password.Hash
	Active   bool

	DeclRange hcl.Range
	NameRange hcl.Range
}

// Sessions is the decoded sessions block.
type Sessions struct {
	Spec      policy.SessionsSpec
	DeclRange hcl.Range
}

// LDAP is a decoded ldap block.
type LDAP struct {
	Spec        settings.LDAP // connection settings; the policy is Roles and DefaultRole
	Roles       []groupRoleRef
	DefaultRole ref
	// LookupRanges are where each lookup of Spec.Lookups is named.
	LookupRanges map[string]hcl.Range

	DeclRange hcl.Range
	NameRange hcl.Range
}

// groupRoleRef is one "group = role" entry of an app in ldap.roles.
type groupRoleRef struct {
	App   ref
	Group string
	Role  ref
}

// OAuth is a decoded oauth block.
type OAuth struct {
	Spec        settings.OAuth // client settings; the policy is App, DefaultRole and Accounts
	App         ref
	DefaultRole ref
	// LookupRanges are where each lookup of Spec.Lookups is named.
	LookupRanges map[string]hcl.Range
	Accounts     oauthAccounts // users, match_username (provider "x")

	DeclRange hcl.Range
	NameRange hcl.Range
}

func decodeUserBlock(block *hcl.Block, ctx *hcl.EvalContext) (*User, hcl.Diagnostics) {
	u := &User{Name: block.Labels[0], Active: true, DeclRange: block.DefRange, NameRange: block.LabelRanges[0]}
	diags := checkName("user", u.Name, u.NameRange, u.DeclRange)
	content, d := block.Body.Content(userSchema)
	diags = append(diags, d...)
	for _, as := range userSchema.Attributes {
		attr := content.Attributes[as.Name]
		if attr == nil {
			continue
		}
		switch as.Name {
		case "password_hash":
			u.Password, d = decodePasswordHash(attr, ctx)
		case "email":
			u.Email, d = decodeString(attr, ctx)
			if !d.HasErrors() && !validEmail(u.Email) {
				d = append(d, errorAt(summaryInvalidEmail,
					fmt.Sprintf("email = %s is not an email address such as \"alice@example.com\".", shown(attr.Expr, u.Email)),
					attr.Expr.Range(), attr.Range.Ptr()))
				u.Email = ""
			}
			u.EmailRange = attr.Expr.Range()
		case "roles":
			u.Roles, d = decodeRoleMap(attr, ctx)
		case "lookups":
			u.Lookups, d = decodeLookupMap(attr, ctx)
		case "secret_lookups":
			u.Secrets, d = decodeLookupMap(attr, ctx)
			d = append(d, checkSecretClash(u.Lookups, u.Secrets, attr)...)
		case "active":
			u.Active, d = decodeBool(attr, ctx)
		}
		diags = append(diags, d...)
	}
	u.RateLimit, d = decodeRateLimit(content.Blocks, ctx)
	return u, append(diags, d...)
}

func decodeAdminBlock(block *hcl.Block, ctx *hcl.EvalContext) (*Admin, hcl.Diagnostics) {
	a := &Admin{Name: block.Labels[0], Active: true, DeclRange: block.DefRange, NameRange: block.LabelRanges[0]}
	diags := checkName("admin", a.Name, a.NameRange, a.DeclRange)
	content, d := block.Body.Content(adminSchema)
	diags = append(diags, d...)
	for _, as := range adminSchema.Attributes {
		attr := content.Attributes[as.Name]
		if attr == nil {
			continue
		}
		switch as.Name {
		case "password_hash":
			a.Password, d = decodePasswordHash(attr, ctx)
		case "active":
			a.Active, d = decodeBool(attr, ctx)
		}
		diags = append(diags, d...)
	}
	return a, diags
}

// decodePasswordHash parses an argon2id or bcrypt hash. The value is never
// echoed: a mistake here is often the password itself.
func decodePasswordHash(attr *hcl.Attribute, ctx *hcl.EvalContext) (*password.Hash, hcl.Diagnostics) {
	s, diags := decodeString(attr, ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	h, err := password.Parse(s)
	if err != nil {
		return nil, append(diags, errorAt(summaryInvalidPasswordHash,
			fmt.Sprintf("password_hash is not usable: %v", err),
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	return h, diags
}

func decodeSessionsBlock(block *hcl.Block, ctx *hcl.EvalContext, basedir string) (*Sessions, hcl.Diagnostics) {
	s := &Sessions{DeclRange: block.DefRange, Spec: policy.SessionsSpec{
		TTL: defaultSessionTTL, RefreshTTL: defaultRefreshTTL, CacheSize: defaultCacheSize, Issuer: defaultIssuer,
		Origin: origin(block.DefRange),
	}}
	content, diags := block.Body.Content(sessionsSchema)
	var d hcl.Diagnostics
	var keyAttr, keyFileAttr, refreshAttr *hcl.Attribute
	for _, as := range sessionsSchema.Attributes {
		attr := content.Attributes[as.Name]
		if attr == nil {
			continue
		}
		switch as.Name {
		case "signing_key":
			keyAttr = attr
			var key string
			key, d = decodeString(attr, ctx)
			if !d.HasErrors() {
				if len(key) < minSigningKeyBytes {
					// The length is safe to show; the key is not.
					d = append(d, errorAt(summaryWeakSigningKey,
						fmt.Sprintf("signing_key has %d bytes; HS256 needs at least %d. Generate one with `openssl rand -base64 48` and pass it with env().", len(key), minSigningKeyBytes),
						attr.Expr.Range(), attr.Range.Ptr()))
				} else {
					s.Spec.HMACKey = []byte(key)
				}
			}
		case "signing_key_file":
			keyFileAttr = attr
			var p string
			p, d = decodeString(attr, ctx)
			if !d.HasErrors() {
				if !filepath.IsAbs(p) {
					p = filepath.Join(basedir, p)
				}
				key, err := readEd25519Key(p)
				if err != nil {
					d = append(d, errorAt(summaryUnreadableFile,
						fmt.Sprintf("signing_key_file: %v. Create a key with `openssl genpkey -algorithm ed25519 -out sessions.pem`.", err),
						attr.Expr.Range(), attr.Range.Ptr()))
				} else {
					s.Spec.Ed25519Key = key
				}
			}
		case "ttl":
			s.Spec.TTL, d = decodeDuration(attr, ctx, false)
		case "refresh_ttl":
			refreshAttr = attr
			s.Spec.RefreshTTL, d = decodeDuration(attr, ctx, false)
		case "cache_size":
			s.Spec.CacheSize, d = decodeCount(attr, ctx, 1<<30)
		case "issuer":
			s.Spec.Issuer, d = decodeString(attr, ctx)
			if !d.HasErrors() && strings.TrimSpace(s.Spec.Issuer) == "" {
				d = append(d, errorAt(summaryEmptyValue, "issuer must not be empty.", attr.Expr.Range(), attr.Range.Ptr()))
			}
		case "cookie_secure":
			var secure bool
			secure, d = decodeBool(attr, ctx)
			if !d.HasErrors() && !secure {
				s.Spec.InsecureCookie = true
				d = append(d, &hcl.Diagnostic{
					Severity: hcl.DiagWarning,
					Summary:  summaryInsecureCookie,
					Detail:   "cookie_secure = false sends the session cookie and the OAuth binding cookies without Secure, so browsers also send them over plain HTTP, where anyone on the path can read them. Use it only to try gatehouse on plain HTTP; remove it before real users log in.",
					Subject:  attr.Expr.Range().Ptr(),
					Context:  attr.Range.Ptr(),
				})
			}
		}
		diags = append(diags, d...)
	}
	switch {
	case keyAttr != nil && keyFileAttr != nil:
		diags = append(diags, errorAt(summaryConflictingKeys,
			"Set either signing_key (HS256, a shared secret) or signing_key_file (EdDSA, an Ed25519 private key), not both.",
			keyFileAttr.NameRange, s.DeclRange.Ptr()))
	case keyAttr == nil && keyFileAttr == nil:
		diags = append(diags, errorAt(summaryMissingSigningKey,
			"The sessions block needs signing_key = env(\"GATEHOUSE_SIGNING_KEY\") (at least 32 bytes) or signing_key_file = \"sessions.pem\" (Ed25519).",
			s.DeclRange, nil))
	}
	if refreshAttr == nil && s.Spec.RefreshTTL < s.Spec.TTL {
		s.Spec.RefreshTTL = s.Spec.TTL // the default never undercuts ttl
	}
	if refreshAttr != nil && s.Spec.RefreshTTL > 0 && s.Spec.RefreshTTL < s.Spec.TTL {
		diags = append(diags, errorAt(summaryInvalidDuration,
			fmt.Sprintf("refresh_ttl (%s) is shorter than ttl (%s); a token could not be refreshed before it expires. Make refresh_ttl at least ttl.", s.Spec.RefreshTTL, s.Spec.TTL),
			refreshAttr.Expr.Range(), refreshAttr.Range.Ptr()))
	}
	return s, diags
}

// readEd25519Key reads a PEM "PRIVATE KEY" (PKCS #8) holding an Ed25519 key.
func readEd25519Key(p string) (ed25519.PrivateKey, error) {
	data, err := readSmallFile(p)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s holds no PEM \"PRIVATE KEY\" block", filepath.Base(p))
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Base(p), err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s holds a %T, not an Ed25519 key", filepath.Base(p), k)
	}
	return ek, nil
}

func decodeLDAPBlock(block *hcl.Block, ctx *hcl.EvalContext, basedir string) (*LDAP, hcl.Diagnostics) {
	l := &LDAP{DeclRange: block.DefRange, NameRange: block.LabelRanges[0], Spec: settings.LDAP{
		Name: block.Labels[0], UserFilter: defaultLDAPFilter, GroupAttr: defaultLDAPGroupAtt, EmailAttr: "mail",
		Timeout: defaultLDAPTimeout,
	}}
	diags := checkName("ldap", l.Spec.Name, l.NameRange, l.DeclRange)
	content, d := block.Body.Content(ldapSchema)
	diags = append(diags, d...)
	var urlAttr, startTLSAttr *hcl.Attribute
	for _, as := range ldapSchema.Attributes {
		attr := content.Attributes[as.Name]
		if attr == nil {
			continue
		}
		sp := &l.Spec
		switch as.Name {
		case "url":
			urlAttr = attr
			sp.URL, d = decodeLDAPURL(attr, ctx)
		case "start_tls":
			startTLSAttr = attr
			sp.StartTLS, d = decodeBool(attr, ctx)
		case "ca_file":
			var p string
			p, d = decodeString(attr, ctx)
			if !d.HasErrors() {
				sp.RootCAs, d = readCAFile(p, basedir, attr)
			}
		case "bind_dn":
			sp.BindDN, d = decodeString(attr, ctx)
		case "bind_password":
			sp.BindPassword, d = decodeString(attr, ctx)
		case "user_base":
			sp.UserBase, d = decodeNonEmpty(attr, ctx)
		case "user_filter":
			sp.UserFilter, d = decodeTemplate(attr, ctx, "{username}", "(uid={username})")
		case "group_base":
			sp.GroupBase, d = decodeString(attr, ctx)
		case "group_filter":
			sp.GroupFilter, d = decodeTemplate(attr, ctx, "{dn}", "(member={dn})")
		case "group_attr":
			sp.GroupAttr, d = decodeNonEmpty(attr, ctx)
		case "email_attr":
			sp.EmailAttr, d = decodeNonEmpty(attr, ctx)
		case "timeout":
			sp.Timeout, d = decodeDuration(attr, ctx, false)
		case "roles":
			l.Roles, d = decodeGroupRoles(attr, ctx)
		case "default_role":
			l.DefaultRole, d = decodeRef(attr, ctx)
		case "lookups":
			sp.Lookups, l.LookupRanges, d = decodeLookupSources(attr, ctx, ldapSource)
		}
		diags = append(diags, d...)
	}
	if l.Spec.BindDN != "" && l.Spec.BindPassword == "" {
		diags = append(diags, errorAt(summaryEmptyValue,
			"bind_dn is set but bind_password is empty; a bind with an empty password is anonymous at best. Set bind_password = env(\"LDAP_PASSWORD\"), or remove bind_dn to search anonymously.",
			l.NameRange, l.DeclRange.Ptr()))
	}
	if startTLSAttr != nil && l.Spec.StartTLS && strings.HasPrefix(l.Spec.URL, "ldaps://") {
		diags = append(diags, errorAt(summaryConflictingTLS,
			"start_tls upgrades a plain ldap:// connection; an ldaps:// URL is already TLS. Remove start_tls or use ldap://.",
			startTLSAttr.Expr.Range(), startTLSAttr.Range.Ptr()))
	}
	if urlAttr != nil && strings.HasPrefix(l.Spec.URL, "ldap://") && !l.Spec.StartTLS && !loopbackURL(l.Spec.URL) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "Unencrypted LDAP",
			Detail:   "Passwords are sent to this directory in clear text. Use ldaps:// or start_tls = true.",
			Subject:  urlAttr.Expr.Range().Ptr(),
		})
	}
	return l, diags
}

func decodeOAuthBlock(block *hcl.Block, ctx *hcl.EvalContext) (*OAuth, hcl.Diagnostics) {
	o := &OAuth{DeclRange: block.DefRange, NameRange: block.LabelRanges[0], Spec: settings.OAuth{Name: block.Labels[0], ClockSkew: defaultClockSkew}}
	diags := checkName("oauth", o.Spec.Name, o.NameRange, o.DeclRange)
	content, d := block.Body.Content(oauthSchema)
	diags = append(diags, d...)
	var providerAttr, issuerAttr, redirectAttr, methodAttr, keyAttr, secretAttr, audAttr, endAttr, postLogoutAttr, defaultRoleAttr *hcl.Attribute
	var lookupsAttr *hcl.Attribute
	for _, as := range oauthSchema.Attributes {
		attr := content.Attributes[as.Name]
		if attr == nil {
			continue
		}
		sp := &o.Spec
		switch as.Name {
		case "provider":
			providerAttr = attr
			sp.Provider, d = decodeString(attr, ctx)
		case "client_id":
			sp.ClientID, d = decodeNonEmpty(attr, ctx)
		case "client_secret":
			secretAttr = attr
			sp.ClientSecret, d = decodeNonEmpty(attr, ctx)
		case "token_endpoint_auth_method":
			methodAttr = attr
			sp.TokenAuthMethod, d = decodeOneOf(attr, ctx, oauthAuthMethods, summaryInvalidAuthMethod, "as registered for the client at the provider")
		case "private_key":
			keyAttr = attr
			sp.PrivateKey, d = decodePrivateKey(attr, ctx)
		case "private_key_id":
			sp.PrivateKeyID, d = decodeNonEmpty(attr, ctx)
		case "client_assertion_audience":
			audAttr = attr
			sp.ClientAssertionAudience, d = decodeOneOf(attr, ctx, oauthAssertionAudiences, summaryInvalidAssertionAud, "the audience the provider requires of client assertions")
		case "end_session":
			endAttr = attr
			sp.EndSession, d = decodeBool(attr, ctx)
		case "post_logout_redirect_url":
			postLogoutAttr = attr
			sp.PostLogoutRedirectURL, d = decodeHTTPURL(attr, ctx, oauthURLHint)
		case "clock_skew":
			sp.ClockSkew, d = decodeDuration(attr, ctx, true)
			if !d.HasErrors() && sp.ClockSkew > maxClockSkew {
				d = append(d, errorAt(summaryInvalidDuration,
					fmt.Sprintf("clock_skew = %s is more than %s; a larger leeway accepts ID tokens long expired. Synchronize the clocks (NTP) and keep clock_skew small, such as \"60s\".", sp.ClockSkew, maxClockSkew),
					attr.Expr.Range(), attr.Range.Ptr()))
			}
		case "redirect_url":
			redirectAttr = attr
			sp.RedirectURL, d = decodeHTTPURL(attr, ctx, oauthURLHint)
		case "issuer":
			issuerAttr = attr
			sp.Issuer, d = decodeHTTPURL(attr, ctx, oauthURLHint)
		case "scopes":
			var items []listItem
			items, d = decodeStringList(attr, ctx)
			for _, it := range items {
				sp.Scopes = append(sp.Scopes, it.Value)
			}
		case "auth_url":
			sp.AuthURL, d = decodeHTTPURL(attr, ctx, oauthURLHint)
		case "token_url":
			sp.TokenURL, d = decodeHTTPURL(attr, ctx, oauthURLHint)
		case "api_url":
			sp.APIURL, d = decodeHTTPURL(attr, ctx, oauthURLHint)
		case "app":
			o.App, d = decodeRef(attr, ctx)
		case "default_role":
			defaultRoleAttr = attr
			o.DefaultRole, d = decodeRef(attr, ctx)
		case "lookups":
			lookupsAttr = attr
			sp.Lookups, o.LookupRanges, d = decodeLookupSources(attr, ctx, claimSource)
		case "users":
			o.Accounts.UsersAttr = attr
			o.Accounts.Users, d = decodeAccounts(attr, ctx)
			o.Accounts.usersBad = d.HasErrors()
		case "match_username":
			o.Accounts.MatchAttr = attr
			o.Accounts.MatchUsername, d = decodeBool(attr, ctx)
		}
		diags = append(diags, d...)
	}
	sp := &o.Spec
	if providerAttr == nil {
		for _, p := range oauthProviders {
			if sp.Name == p {
				sp.Provider = p
			}
		}
		if sp.Provider == "" {
			diags = append(diags, errorAt(summaryUnknownProvider,
				fmt.Sprintf("oauth %q needs provider = one of %s (or name the block after the provider).", sp.Name, quoteList(oauthProviders)),
				o.NameRange, o.DeclRange.Ptr()))
		}
	} else if sp.Provider != "" && !slices.Contains(oauthProviders, sp.Provider) {
		diags = append(diags, errorAt(summaryUnknownProvider,
			fmt.Sprintf("provider = %q is not supported; use one of %s. For Keycloak, Okta, Entra ID, Dex and other OpenID Connect providers use \"oidc\" with issuer.", sp.Provider, quoteList(oauthProviders)),
			providerAttr.Expr.Range(), providerAttr.Range.Ptr()))
	}
	diags = append(diags, checkClientAuth(o, methodAttr, keyAttr, secretAttr, audAttr)...)
	diags = append(diags, checkOAuthLookups(o, lookupsAttr)...)
	diags = append(diags, checkAccounts(o, defaultRoleAttr)...)
	if sp.EndSession && sp.Provider != "oidc" && sp.Provider != "google" && sp.Provider != "" {
		diags = append(diags, errorAt(summaryUnusedSetting,
			fmt.Sprintf("end_session uses the end_session_endpoint of an OpenID Connect discovery document; provider %q has none. Remove it.", sp.Provider),
			endAttr.Range, nil))
	}
	if postLogoutAttr != nil && !sp.EndSession {
		diags = append(diags, errorAt(summaryUnusedSetting,
			"post_logout_redirect_url is used only with end_session = true. Add that, or remove post_logout_redirect_url.",
			postLogoutAttr.Range, nil))
	}
	if sp.Provider == "oidc" && issuerAttr == nil {
		diags = append(diags, errorAt(summaryMissingIssuer,
			"provider \"oidc\" needs issuer, the URL whose /.well-known/openid-configuration describes the provider.",
			o.DeclRange, nil))
	}
	if redirectAttr != nil && sp.RedirectURL != "" {
		want := "/auth/oauth/" + sp.Name + "/callback"
		if u, err := url.Parse(sp.RedirectURL); err == nil && u.Path != want {
			diags = append(diags, errorAt(summaryInvalidURL,
				fmt.Sprintf("redirect_url must have the path %q, the callback gatehouse serves for this block (register the same URL at the provider).", want),
				redirectAttr.Expr.Range(), redirectAttr.Range.Ptr()))
		}
	}
	return o, diags
}

// checkClientAuth checks that the oauth block has what its
// token_endpoint_auth_method needs: client_secret for the secret methods
// (the default), private_key for private_key_jwt, which only provider
// "oidc" offers; client_assertion_audience is for private_key_jwt only.
func checkClientAuth(o *OAuth, methodAttr, keyAttr, secretAttr, audAttr *hcl.Attribute) hcl.Diagnostics {
	var diags hcl.Diagnostics
	sp := &o.Spec
	if sp.TokenAuthMethod == "private_key_jwt" {
		if sp.Provider != "oidc" && sp.Provider != "" {
			diags = append(diags, errorAt(summaryInvalidAuthMethod,
				fmt.Sprintf("token_endpoint_auth_method = \"private_key_jwt\" is for provider = \"oidc\"; %s authenticates clients with client_secret.", sp.Provider),
				methodAttr.Expr.Range(), methodAttr.Range.Ptr()))
		}
		if keyAttr == nil {
			diags = append(diags, errorAt(summaryMissingRequired,
				fmt.Sprintf("token_endpoint_auth_method = \"private_key_jwt\" needs private_key, the PEM private key whose public key is registered for client %q at the provider: private_key = file(\"oauth-%s.key\").", sp.ClientID, sp.Name),
				methodAttr.Range, o.DeclRange.Ptr()))
		}
		if secretAttr != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  summaryUnusedSetting,
				Detail:   "With token_endpoint_auth_method = \"private_key_jwt\" the client_secret is never sent; remove it.",
				Subject:  secretAttr.Range.Ptr(),
			})
		}
		return diags
	}
	if audAttr != nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  summaryUnusedSetting,
			Detail:   "client_assertion_audience is used only with token_endpoint_auth_method = \"private_key_jwt\"; remove it.",
			Subject:  audAttr.Range.Ptr(),
		})
	}
	if methodAttr != nil && sp.TokenAuthMethod == "" {
		return diags // already reported
	}
	if secretAttr == nil {
		diags = append(diags, errorAt(summaryMissingRequired,
			fmt.Sprintf("oauth %q needs client_secret (client_secret = env(\"%s_CLIENT_SECRET\")), or token_endpoint_auth_method = \"private_key_jwt\" with private_key.", sp.Name, strings.ToUpper(strings.ReplaceAll(sp.Name, "-", "_"))),
			o.DeclRange, nil))
	}
	if keyAttr != nil {
		diags = append(diags, errorAt(summaryInvalidPrivateKey,
			"private_key is used only with token_endpoint_auth_method = \"private_key_jwt\". Add that, or remove private_key.",
			keyAttr.Range, nil))
	}
	return diags
}

// decodePrivateKey reads a PEM private key for private_key_jwt: PKCS #8,
// PKCS #1 (RSA) or SEC 1 (EC); RSA of at least 2048 bits (RS256) or ECDSA
// on P-256 (ES256). The key is a secret: no diagnostic shows it.
func decodePrivateKey(attr *hcl.Attribute, ctx *hcl.EvalContext) (crypto.Signer, hcl.Diagnostics) {
	s, diags := decodeString(attr, ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	bad := func(why string) (crypto.Signer, hcl.Diagnostics) {
		return nil, append(diags, errorAt(summaryInvalidPrivateKey,
			"private_key "+why+". Write private_key = file(\"key.pem\") with a PEM RSA key of at least 2048 bits (signs RS256) or an EC P-256 key (ES256), whose public key is registered at the provider.",
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return bad("is not PEM")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return bad(fmt.Sprintf("is a PEM %q block, not a private key (encrypted keys are not supported)", block.Type))
	}
	if err != nil {
		return bad("does not parse")
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return bad(fmt.Sprintf("is an RSA key of %d bits", k.N.BitLen()))
		}
		return k, diags
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return bad(fmt.Sprintf("is an EC key on %s", k.Curve.Params().Name))
		}
		return k, diags
	}
	return bad(fmt.Sprintf("is a %T key", key))
}

// decodeRef reads the name of another block (role, app).
func decodeRef(attr *hcl.Attribute, ctx *hcl.EvalContext) (ref, hcl.Diagnostics) {
	s, diags := decodeString(attr, ctx)
	return ref{Name: s, Range: attr.Expr.Range(), Hidden: callsFunction(attr.Expr)}, diags
}

func decodeNonEmpty(attr *hcl.Attribute, ctx *hcl.EvalContext) (string, hcl.Diagnostics) {
	s, diags := decodeString(attr, ctx)
	if !diags.HasErrors() && strings.TrimSpace(s) == "" {
		diags = append(diags, errorAt(summaryEmptyValue, fmt.Sprintf("%s must not be empty.", attr.Name), attr.Expr.Range(), attr.Range.Ptr()))
	}
	return s, diags
}

// decodeTemplate reads an LDAP filter that must contain placeholder.
func decodeTemplate(attr *hcl.Attribute, ctx *hcl.EvalContext, placeholder, example string) (string, hcl.Diagnostics) {
	s, diags := decodeString(attr, ctx)
	if diags.HasErrors() {
		return "", diags
	}
	_, compileErr := ldap.CompileFilter(strings.ReplaceAll(s, placeholder, "x"))
	if !strings.Contains(s, placeholder) || compileErr != nil {
		return "", append(diags, errorAt(summaryInvalidFilter,
			fmt.Sprintf("%s must be an LDAP filter in parentheses that contains %s, such as %q; gatehouse escapes the value it substitutes.", attr.Name, placeholder, example),
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	return s, diags
}

// decodeLDAPURL reads ldap://host[:port] or ldaps://host[:port].
func decodeLDAPURL(attr *hcl.Attribute, ctx *hcl.EvalContext) (string, hcl.Diagnostics) {
	s, diags := decodeString(attr, ctx)
	if diags.HasErrors() {
		return "", diags
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Hostname() == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || (u.Port() != "" && !validPort(u.Port())) {
		return "", append(diags, errorAt(summaryInvalidURL,
			fmt.Sprintf("url = %s is not an LDAP server URL. Write for example \"ldaps://ldap.example.com\" or \"ldap://127.0.0.1:389\" (with start_tls = true).", shown(attr.Expr, s)),
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	return s, diags
}

// decodeHTTPURL reads an absolute https URL (OAuth endpoints, issuers, the
// ACME directory); plain http only to a loopback address, for tests and
// local CAs. hint is appended to every complaint.
func decodeHTTPURL(attr *hcl.Attribute, ctx *hcl.EvalContext, hint string) (string, hcl.Diagnostics) {
	s, diags := decodeString(attr, ctx)
	if diags.HasErrors() {
		return "", diags
	}
	bad := func(why string) (string, hcl.Diagnostics) {
		return "", append(diags, errorAt(summaryInvalidURL,
			fmt.Sprintf("%s = %s %s. %s", attr.Name, shown(attr.Expr, s), why, hint),
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return bad("does not parse")
	case u.Scheme != "https" && u.Scheme != "http":
		return bad("must use https")
	case u.Opaque != "" || u.Hostname() == "":
		return bad("has no host")
	case u.Port() != "" && !validPort(u.Port()):
		return bad("has a port outside 1-65535")
	case u.User != nil:
		return bad("contains credentials")
	case u.Fragment != "":
		return bad("has a fragment")
	case u.Scheme == "http" && !loopbackHost(u.Hostname()):
		return bad("must use https (plain http is accepted only for loopback addresses, for testing and local CAs)")
	}
	return s, diags
}

func loopbackURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && loopbackHost(u.Hostname())
}

func loopbackHost(h string) bool {
	return h == "localhost" || h == "::1" || strings.HasPrefix(h, "127.")
}

// readCAFile reads PEM certificates for verifying a server.
func readCAFile(p, basedir string, attr *hcl.Attribute) (*x509.CertPool, hcl.Diagnostics) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(basedir, p)
	}
	data, err := readSmallFile(p)
	if err == nil {
		pool := x509.NewCertPool()
		if pool.AppendCertsFromPEM(data) {
			return pool, nil
		}
		err = fmt.Errorf("%s holds no PEM certificate", filepath.Base(p))
	}
	return nil, hcl.Diagnostics{errorAt(summaryUnreadableFile, fmt.Sprintf("%s: %v.", attr.Name, err), attr.Expr.Range(), attr.Range.Ptr())}
}

// decodeRoleMap reads roles = { app = "role", … } in written order.
func decodeRoleMap(attr *hcl.Attribute, ctx *hcl.EvalContext) ([]roleRef, hcl.Diagnostics) {
	pairs, diags := hcl.ExprMap(attr.Expr)
	if diags.HasErrors() {
		return nil, hcl.Diagnostics{errorAt(summaryWrongType,
			"roles must be an object literal such as { portal = \"hr_reader\" }: app name = role name.",
			attr.Expr.Range(), attr.Range.Ptr())}
	}
	var out []roleRef
	seen := map[string]bool{}
	for _, kv := range pairs {
		app, d := evalKey(kv.Key, ctx, attr.Range)
		diags = append(diags, d...)
		role, d2 := evalString("role", kv.Value, attr.Range, ctx)
		diags = append(diags, d2...)
		if d.HasErrors() || d2.HasErrors() {
			continue
		}
		if seen[app] {
			diags = append(diags, errorAt(summaryDuplicateKeyInMap, fmt.Sprintf("App %q is listed twice in roles; a user has one role per app.", app), kv.Key.Range(), attr.Range.Ptr()))
			continue
		}
		seen[app] = true
		out = append(out, roleRef{
			App:  ref{Name: app, Range: kv.Key.Range()},
			Role: ref{Name: role, Range: kv.Value.Range(), Hidden: callsFunction(kv.Value)},
		})
	}
	return out, diags
}

// decodeGroupRoles reads roles = { app = { "group" = "role", … }, … },
// keeping the written order of groups: the first group a user is in wins.
func decodeGroupRoles(attr *hcl.Attribute, ctx *hcl.EvalContext) ([]groupRoleRef, hcl.Diagnostics) {
	bad := hcl.Diagnostics{errorAt(summaryWrongType,
		"roles must be an object literal such as { portal = { \"hr-staff\" = \"hr_reader\" } }: app name = { group = role }.",
		attr.Expr.Range(), attr.Range.Ptr())}
	apps, diags := hcl.ExprMap(attr.Expr)
	if diags.HasErrors() {
		return nil, bad
	}
	var out []groupRoleRef
	for _, akv := range apps {
		app, d := evalKey(akv.Key, ctx, attr.Range)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		groups, d := hcl.ExprMap(akv.Value)
		if d.HasErrors() {
			diags = append(diags, bad...)
			continue
		}
		for _, gkv := range groups {
			group, d := evalKey(gkv.Key, ctx, attr.Range)
			diags = append(diags, d...)
			role, d2 := evalString("role", gkv.Value, attr.Range, ctx)
			diags = append(diags, d2...)
			if d.HasErrors() || d2.HasErrors() {
				continue
			}
			out = append(out, groupRoleRef{
				App:   ref{Name: app, Range: akv.Key.Range()},
				Group: group,
				Role:  ref{Name: role, Range: gkv.Value.Range(), Hidden: callsFunction(gkv.Value)},
			})
		}
	}
	return out, diags
}

// evalKey evaluates an object key: a bare word (portal) is its own name, a
// quoted or computed key is evaluated.
func evalKey(expr hcl.Expression, ctx *hcl.EvalContext, context hcl.Range) (string, hcl.Diagnostics) {
	if kw := hcl.ExprAsKeyword(expr); kw != "" {
		return kw, nil
	}
	v, diags := evalAs("key", expr, context, ctx, cty.String)
	if diags.HasErrors() {
		return "", diags
	}
	return v.AsString(), diags
}

// validEmail is a deliberately loose check: one @, something on each side,
// no spaces or control characters.
func validEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 || at != strings.LastIndexByte(s, '@') || at == len(s)-1 || len(s) > 254 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// decodeOneOf decodes a string attribute that must be one of allowed; why
// ends the message of a value that is not ("use one of …, why.").
func decodeOneOf(attr *hcl.Attribute, ctx *hcl.EvalContext, allowed []string, summary, why string) (string, hcl.Diagnostics) {
	v, d := decodeString(attr, ctx)
	if !d.HasErrors() && !slices.Contains(allowed, v) {
		d = append(d, errorAt(summary,
			fmt.Sprintf("%s = %s is not supported; use one of %s, %s.", attr.Name, shown(attr.Expr, v), quoteList(allowed), why),
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	return v, d
}
