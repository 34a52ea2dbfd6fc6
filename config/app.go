package config

import (
	"fmt"
	"regexp"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/hashicorp/hcl/v2"
)

// appSchema is the body of app "name" { … }. An app needs at least one
// key: api_key_sha256, api_key blocks, or both (decodeAppKeys).
var appSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "api_key_sha256"},
		{Name: "default_role"},
		{Name: "lookups"},
		{Name: "secret_lookups"},
		{Name: "active"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "api_key", LabelNames: []string{"label"}},
		rateLimitBlock,
	},
}

// apiKeySchema is the body of api_key "label" { … } inside an app.
var apiKeySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "sha256", Required: true},
		{Name: "not_after"},
	},
}

// keyLabelRE is what an API key label may be: it is written into access
// log lines and metric labels as it is. Dates such as "2026-12" are the
// expected use, so a label may start with a digit.
var keyLabelRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidAPIKeyLabel reports whether label may label an api_key block (for
// `gatehouse keygen --label`).
func ValidAPIKeyLabel(label string) bool { return keyLabelRE.MatchString(label) }

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
	diags = append(diags, decodeAppKeys(a, block, content, ctx)...)
	a.RateLimit, d = decodeRateLimit(content.Blocks, ctx)
	return a, append(diags, d...)
}

// decodeAppKeys decodes an app's api_key blocks and checks that the app
// has a key at all and that its keys' names (labels, and the unlabeled
// key's hash prefix) are distinct: logs and metrics tell keys apart by
// them. Duplicate hashes, within and across apps, are the merger's.
func decodeAppKeys(a *App, block *hcl.Block, content *hcl.BodyContent, ctx *hcl.EvalContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	labels := map[string]*APIKey{}
	keyBlocks := 0
	for _, b := range content.Blocks {
		if b.Type != "api_key" {
			continue
		}
		keyBlocks++
		k, d := decodeAPIKeyBlock(b, ctx)
		diags = append(diags, d...)
		if first, dup := labels[k.Label]; dup {
			diags = append(diags, errorAt(summaryDuplicateKeyLabel,
				fmt.Sprintf("App %q has two api_key blocks labeled %q; %s. Labels name keys in the access log and metrics: give each key its own.", a.Name, k.Label, firstDeclared(first.LabelRange)),
				k.LabelRange, k.DeclRange.Ptr()))
			continue
		}
		labels[k.Label] = k
		a.Keys = append(a.Keys, k)
	}
	_, hasAttr := content.Attributes["api_key_sha256"]
	switch {
	case !hasAttr && keyBlocks == 0:
		diags = append(diags, errorAt(summaryMissingRequired,
			fmt.Sprintf("App %q has no API key: set api_key_sha256, or add an api_key \"label\" { sha256 = … } block. Run `gatehouse keygen` to create a key and its hash.", a.Name),
			block.DefRange, nil))
	case a.KeyRange != (hcl.Range{}):
		// The unlabeled key is named by its hash prefix: no label may
		// take that name.
		if k := labels[policy.KeyName(a.KeySHA256, "")]; k != nil {
			diags = append(diags, errorAt(summaryDuplicateKeyLabel,
				fmt.Sprintf("The label %q is the name the access log gives the app's api_key_sha256 key (the first 8 hex digits of its hash), declared at %s. Choose another label.", k.Label, pos(a.KeyRange)),
				k.LabelRange, k.DeclRange.Ptr()))
		}
	}
	return diags
}

// decodeAPIKeyBlock decodes api_key "label" { sha256 = "…"  not_after = "…" }.
func decodeAPIKeyBlock(block *hcl.Block, ctx *hcl.EvalContext) (*APIKey, hcl.Diagnostics) {
	k := &APIKey{Label: block.Labels[0], DeclRange: block.DefRange, LabelRange: block.LabelRanges[0]}
	var diags hcl.Diagnostics
	if !keyLabelRE.MatchString(k.Label) {
		diags = append(diags, errorAt(summaryInvalidName,
			fmt.Sprintf("%q is not a valid API key label. Labels have 1 to 64 letters, digits, dots, underscores and dashes, starting with a letter or digit (e.g. \"2026-12\"); they appear in the access log and metrics.", k.Label),
			k.LabelRange, k.DeclRange.Ptr()))
	}
	content, d := block.Body.Content(apiKeySchema)
	diags = append(diags, d...)
	if attr := content.Attributes["sha256"]; attr != nil {
		k.SHA256, d = decodeKeyHash(attr, ctx)
		if !d.HasErrors() {
			k.SHA256Range = attr.Expr.Range()
		}
		diags = append(diags, d...)
	}
	if attr := content.Attributes["not_after"]; attr != nil {
		k.NotAfter, d = decodeTimestamp(attr, ctx)
		if !d.HasErrors() {
			k.NotAfterRange = attr.Expr.Range()
			d = append(d, keyExpiryWarning(k, attr, time.Now())...)
		}
		diags = append(diags, d...)
	}
	return k, diags
}

// keyExpiringWithin is how long before its not_after a key is reported at
// load (validate prints it; run prints it at start).
const keyExpiringWithin = 7 * 24 * time.Hour

// keyExpiryWarning is a warning for a key that has expired, or will
// within keyExpiringWithin of now: its clients are (or soon will be)
// refused with api_key_expired. Not an error: an expired key left in the
// configuration answers its own reason instead of unknown_api_key.
func keyExpiryWarning(k *APIKey, attr *hcl.Attribute, now time.Time) hcl.Diagnostics {
	at := k.NotAfter.UTC().Format(time.RFC3339)
	var summary, detail string
	switch {
	case now.After(k.NotAfter):
		summary = summaryKeyExpired
		detail = fmt.Sprintf("API key %q expired at %s: requests with it are refused (401 api_key_expired). Once the access log shows no more requests with key %q, remove the block.", k.Label, at, k.Label)
	case k.NotAfter.Sub(now) <= keyExpiringWithin:
		summary = summaryKeyExpiring
		detail = fmt.Sprintf("API key %q expires at %s, in %s. Its clients must have moved to another key by then: the access log's key field shows who still uses it.", k.Label, at, k.NotAfter.Sub(now).Round(time.Minute))
	default:
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagWarning,
		Summary:  summary,
		Detail:   detail,
		Subject:  attr.Expr.Range().Ptr(),
		Context:  attr.Range.Ptr(),
	}}
}

// decodeTimestamp reads an RFC 3339 timestamp with its UTC offset
// ("2027-01-31T00:00:00Z", "2027-01-31T01:00:00+01:00").
func decodeTimestamp(attr *hcl.Attribute, ctx *hcl.EvalContext) (time.Time, hcl.Diagnostics) {
	s, diags := decodeString(attr, ctx)
	if diags.HasErrors() {
		return time.Time{}, diags
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, append(diags, errorAt(summaryInvalidTimestamp,
			fmt.Sprintf("%s %s is not an RFC 3339 timestamp; write the date, time and UTC offset, e.g. \"2027-01-31T00:00:00Z\".", attr.Name, shown(attr.Expr, s)),
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	return t, diags
}

// decodeKeyHash reads the hex SHA-256 of an app's API key: exactly 64 hex
// digits, either case. The key itself never appears in configuration.
func decodeKeyHash(attr *hcl.Attribute, ctx *hcl.EvalContext) ([32]byte, hcl.Diagnostics) {
	return decodeSHA256(attr, ctx, summaryInvalidKeyHash, "key", "Run `gatehouse keygen` to create a key and its hash.")
}
