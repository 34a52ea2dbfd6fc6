package config

import (
	"fmt"
	"math/big"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Diagnostic summaries. They are short, stable phrases: tests, docs and
// operators' scripts match on them, so do not reword them. HCL itself adds
// "Unsupported block type", "Unsupported argument", "Missing required
// argument", "Extraneous label for …", "Variables not allowed", "Call to
// unknown function" and its syntax errors.
const (
	summaryCannotRead          = "Cannot read configuration"
	summaryNoFiles             = "No configuration files"
	summaryWrongType           = "Incorrect attribute value type"
	summaryInvalidName         = "Invalid name"
	summaryDuplicateServer     = "Duplicate server"
	summaryDuplicateUpstream   = "Duplicate upstream"
	summaryDuplicateApp        = "Duplicate app"
	summaryDuplicateRole       = "Duplicate role"
	summaryDuplicateLookup     = "Duplicate lookup"
	summaryDuplicatePrefix     = "Duplicate prefix"
	summaryDuplicateKey        = "Duplicate API key hash"
	summaryUnknownUpstream     = "Unknown upstream"
	summaryUnknownRole         = "Unknown role"
	summaryUnknownVerb         = "Unknown verb"
	summaryInvalidURL          = "Invalid URL"
	summaryInvalidPrefix       = "Invalid prefix"
	summaryInvalidGlob         = "Invalid path glob"
	summaryInvalidDuration     = "Invalid duration"
	summaryInvalidCIDR         = "Invalid CIDR"
	summaryInvalidAddress      = "Invalid address"
	summaryInvalidSize         = "Invalid size"
	summaryInvalidKeyHash      = "Invalid API key hash"
	summaryInvalidTokenHash    = "Invalid admin token hash"
	summaryDuplicateKeyLabel   = "Duplicate API key label"
	summaryInvalidTimestamp    = "Invalid timestamp"
	summaryKeyExpiring         = "API key expiring"          // warning
	summaryKeyExpired          = "API key expired"           // warning
	summaryMissingRequired     = "Missing required argument" // hcl's own phrase, for checks hcl's schema cannot express
	summaryInvalidLookup       = "Invalid lookup value"
	summaryInvalidLookupSource = "Invalid lookup source"
	summaryEmptyList           = "Empty list"
	summaryUnsetEnv            = "Unset environment variable"
	summaryUnreadableFile      = "Unreadable file"
	summaryInvalidConfig       = "Invalid configuration"
	summaryInvalidFilterExpr   = "Invalid filter"
	summaryInvalidRecords      = "Invalid records path"
	summaryUnfilterableRecords = "Records cannot be filtered"
	summaryInvalidFieldPath    = "Invalid field path"
	summaryDuplicateField      = "Duplicate field"
	summaryConflictingFields   = "Conflicting fields"
	summaryInvalidMask         = "Invalid mask"
	summaryUnknownLookup       = "Unknown lookup"
	summaryInvalidHeader       = "Invalid header"

	summaryDuplicateUser       = "Duplicate user"
	summaryDuplicateAdmin      = "Duplicate admin"
	summaryDuplicateSessions   = "Duplicate sessions block"
	summaryDuplicateProvider   = "Duplicate login provider"
	summaryDuplicateEmail      = "Duplicate email"
	summaryDuplicateKeyInMap   = "Duplicate key"
	summaryUnknownApp          = "Unknown app"
	summaryUnknownUser         = "Unknown user"
	summaryInvalidAccountID    = "Invalid account id"
	summaryAmbiguousUsername   = "Ambiguous username match"
	summaryUnknownProvider     = "Unknown provider"
	summaryMissingSessions     = "Missing sessions block"
	summaryMissingSigningKey   = "Missing signing key"
	summaryMissingIssuer       = "Missing issuer"
	summaryInvalidAuthMethod   = "Invalid token_endpoint_auth_method"
	summaryInvalidAssertionAud = "Invalid client_assertion_audience"
	summaryInvalidPrivateKey   = "Invalid private key"
	summaryUnusedSetting       = "Setting not used" // warning
	summaryWeakSigningKey      = "Signing key too short"
	summaryConflictingKeys     = "Conflicting signing keys"
	summaryConflictingTLS      = "Conflicting TLS settings"
	summaryInvalidPasswordHash = "Invalid password hash"
	summaryInvalidEmail        = "Invalid email"
	summaryInvalidFilter       = "Invalid LDAP filter"
	summaryEmptyValue          = "Empty value"
	summaryInsecureCookie      = "Insecure session cookie" // warning

	summaryDuplicateTLS        = "Duplicate tls block"
	summaryDuplicateACME       = "Duplicate acme block"
	summaryMissingTLS          = "Missing tls block"
	summaryMissingCertificate  = "Missing certificate"
	summaryInvalidCertificate  = "Invalid certificate"
	summaryCertificateNotValid = "Certificate not valid now" // warning
	summaryInvalidDomain       = "Invalid domain"
	summaryInvalidEAB          = "Invalid external account binding"
	summaryUnwritableDir       = "Unwritable directory"
	summaryOpenCacheDir        = "Cache directory open to others" // warning

	summaryInvalidOrigin        = "Invalid origin"
	summaryInvalidMaxAge        = "Invalid max_age"
	summaryAnyOriginCredentials = "Wildcard origin with credentials"
	summaryDuplicateCORS        = "Duplicate cors path"
	summaryAmbiguousCORS        = "Ambiguous cors paths"

	summaryDuplicateCluster       = "Duplicate cluster block"
	summaryInvalidKeyPrefix       = "Invalid key prefix"
	summaryPasswordInURL          = "Password in URL"
	summaryInvalidSentinel        = "Invalid Sentinel settings"
	summaryConflictingCredentials = "Conflicting credentials"
	summaryMissingPassword        = "Missing password"
	summaryUnencryptedRedis       = "Unencrypted Redis" // warning
	summaryInvalidLimitsOnError   = "Invalid limits_on_error"
	summaryWeakEncryptionKey      = "Encryption key too short"

	summaryInvalidRateLimit   = "Invalid rate limit"
	summaryDuplicateRateLimit = "Duplicate rate_limit block"
	summaryRateLimitOnDeny    = "Rate limit on a deny grant"
)

// badNameDetail explains the identifier rule; it is shared by every label.
const badNameDetail = "Names start with a letter or underscore and contain only letters, digits, underscores and dashes."

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// errorAt returns an error diagnostic whose Subject is subject and whose
// Context is context (nil for none).
func errorAt(summary, detail string, subject hcl.Range, context *hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   detail,
		Subject:  subject.Ptr(),
		Context:  context,
	}
}

// checkName reports a label that is not a valid identifier, at the label.
func checkName(kind, name string, nameRange, declRange hcl.Range) hcl.Diagnostics {
	if nameRE.MatchString(name) {
		return nil
	}
	return hcl.Diagnostics{errorAt(summaryInvalidName,
		fmt.Sprintf("%q is not a valid %s name. %s", name, kind, badNameDetail),
		nameRange, declRange.Ptr())}
}

// pos formats where a range starts as "file:line,col", for Detail texts.
func pos(r hcl.Range) string {
	return fmt.Sprintf("%s:%d,%d", r.Filename, r.Start.Line, r.Start.Column)
}

// origin formats a declaration for policy: "api.hcl:12,3".
func origin(r hcl.Range) string {
	return fmt.Sprintf("%s:%d,%d", filepath.Base(r.Filename), r.Start.Line, r.Start.Column)
}

// firstDeclared is the Detail suffix of every duplicate diagnostic.
func firstDeclared(r hcl.Range) string {
	return "first declared at " + pos(r)
}

// shown quotes s for a Detail text, unless expr calls a function: values
// from env() and file() are often secrets and are never echoed.
func shown(expr hcl.Expression, s string) string {
	if callsFunction(expr) {
		return "the value (from a function call, not shown)"
	}
	return strconv.Quote(s)
}

// shownErr returns err's text for a Detail, or a neutral phrase when expr
// calls a function, since parse errors often quote the bad value.
func shownErr(expr hcl.Expression, err error) string {
	if callsFunction(expr) {
		return "it is not valid"
	}
	return err.Error()
}

// shownNumber is shown for numbers.
func shownNumber(expr hcl.Expression, f *big.Float) string {
	if callsFunction(expr) {
		return "the value (from a function call, not shown)"
	}
	return f.Text('g', 20)
}

// callsFunction reports whether expr contains a function call. Expressions
// that are not native syntax are assumed to.
func callsFunction(expr hcl.Expression) bool {
	node, ok := expr.(hclsyntax.Node)
	if !ok {
		return true
	}
	found := false
	_ = hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		if _, ok := n.(*hclsyntax.FunctionCallExpr); ok {
			found = true
		}
		return nil
	})
	return found
}

// didYouMean returns ` Did you mean "x"?` when a candidate is within two
// edits of name, else "".
func didYouMean(name string, candidates []string) string {
	if len(name) > 64 {
		return "" // bound the quadratic cost on hostile input
	}
	best, bestDist := "", 3
	for _, c := range candidates {
		if len(c) > 64 {
			continue
		}
		if d := editDistance(name, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

// editDistance is the Levenshtein distance between a and b, over bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
