package config

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/filter"
	"github.com/gatehouse-dev/gatehouse/policy/records"
)

// roleSchema is the body of role "name" { … }.
var roleSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "active"},
		{Name: "lookups"},
		{Name: "secret_lookups"},
		{Name: "dry_run"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "allow", LabelNames: []string{"upstream"}},
		{Type: "deny", LabelNames: []string{"upstream"}},
		rateLimitBlock,
	},
}

// allowSchema is the body of allow "upstream" { … }.
var allowSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "paths", Required: true},
		{Name: "verbs", Required: true},
		{Name: "records"},
		{Name: "filter"},
		{Name: "hide_fields"},
		{Name: "mask_fields"},
		{Name: "dry_run"},
	},
	Blocks: []hcl.BlockHeaderSchema{rateLimitBlock},
}

// denySchema is the body of deny "upstream" { … }: a deny refuses whole
// requests, so record selection, filters and rate limits do not apply
// (rate_limit is listed only to say so).
var denySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "paths", Required: true},
		{Name: "verbs", Required: true},
		{Name: "dry_run"},
	},
	Blocks: []hcl.BlockHeaderSchema{rateLimitBlock},
}

// decodeRoleBlock decodes one role block with its grants. Grant labels are
// checked against the declared upstreams by Compile.
func decodeRoleBlock(block *hcl.Block, ctx *hcl.EvalContext, fc *filterCache) (*Role, hcl.Diagnostics) {
	r := &Role{
		Name:      block.Labels[0],
		Active:    true,
		DeclRange: block.DefRange,
		NameRange: block.LabelRanges[0],
	}
	diags := checkName("role", r.Name, r.NameRange, r.DeclRange)
	content, d := block.Body.Content(roleSchema)
	diags = append(diags, d...)
	for _, as := range roleSchema.Attributes {
		attr := content.Attributes[as.Name]
		if attr == nil {
			continue
		}
		switch as.Name {
		case "active":
			r.Active, d = decodeBool(attr, ctx)
		case "lookups":
			r.Lookups, d = decodeLookupMap(attr, ctx)
		case "secret_lookups":
			r.Secrets, d = decodeLookupMap(attr, ctx)
			d = append(d, checkSecretClash(r.Lookups, r.Secrets, attr)...)
		case "dry_run":
			r.DryRun, d = decodeBool(attr, ctx)
		}
		diags = append(diags, d...)
	}
	r.RateLimit, d = decodeRateLimit(content.Blocks, ctx)
	diags = append(diags, d...)
	for _, b := range content.Blocks {
		if b.Type == rateLimitBlock.Type {
			continue
		}
		g, d := decodeGrantBlock(b, ctx, fc)
		diags = append(diags, d...)
		r.Grants = append(r.Grants, g)
	}
	return r, diags
}

// decodeGrantBlock decodes an allow or deny block.
func decodeGrantBlock(block *hcl.Block, ctx *hcl.EvalContext, fc *filterCache) (*Grant, hcl.Diagnostics) {
	g := &Grant{
		Deny:          block.Type == "deny",
		Upstream:      block.Labels[0],
		DeclRange:     block.DefRange,
		UpstreamRange: block.LabelRanges[0],
	}
	schema := allowSchema
	if g.Deny {
		schema = denySchema
	}
	content, diags := block.Body.Content(schema)
	for _, as := range schema.Attributes {
		attr := content.Attributes[as.Name]
		if attr == nil {
			continue
		}
		var d hcl.Diagnostics
		switch as.Name {
		case "paths":
			g.Paths, d = decodeGlobs(attr, ctx)
		case "verbs":
			g.Verbs, d = decodeVerbs(attr, ctx)
		case "records":
			g.Records, d = decodeString(attr, ctx)
			g.RecordsRange = attr.Expr.Range()
			if !d.HasErrors() && !validRecordsPath(g.Records) {
				d = append(d, errorAt(summaryInvalidRecords,
					fmt.Sprintf("records = %q is not a dot path of JSON member names such as \"data\" or \"result.items\".", g.Records),
					attr.Expr.Range(), attr.Range.Ptr()))
			}
		case "filter":
			g.FilterRange = attr.Expr.Range()
			g.Filter, d = decodeString(attr, ctx)
			if !d.HasErrors() {
				g.Program, d = fc.compile(g.Filter, attr)
			}
		case "dry_run":
			g.DryRun, d = decodeBool(attr, ctx)
		}
		diags = append(diags, d...)
	}
	if !g.Deny {
		// hide_fields and mask_fields (fields.go), checked together.
		var d hcl.Diagnostics
		g.Fields, d = decodeFieldRules(content.Attributes["hide_fields"], content.Attributes["mask_fields"], ctx)
		diags = append(diags, d...)
	}
	if g.Deny {
		for _, b := range content.Blocks {
			diags = append(diags, errorAt(summaryRateLimitOnDeny,
				"A deny grant refuses its requests, so there is nothing to limit. Put the rate_limit in an allow block, the role, the app or the user.",
				b.DefRange, block.DefRange.Ptr()))
		}
	} else {
		var d hcl.Diagnostics
		g.RateLimit, d = decodeRateLimit(content.Blocks, ctx)
		diags = append(diags, d...)
	}
	if (g.Program != nil || g.Fields != nil) && !diags.HasErrors() {
		diags = append(diags, fc.plan(g, content.Attributes["records"], content.Attributes["filter"])...)
	}
	return g, diags
}

// decodeGlobs compiles a non-empty list of path globs with policy.ParseGlob,
// reporting each bad pattern at its own list element.
func decodeGlobs(attr *hcl.Attribute, ctx *hcl.EvalContext) ([]policy.Glob, hcl.Diagnostics) {
	items, diags := decodeStringList(attr, ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	if len(items) == 0 {
		return nil, append(diags, errorAt(summaryEmptyList,
			`paths is empty, so the grant would match nothing. List at least one pattern, such as "/employees/*" or "/**".`,
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	globs := make([]policy.Glob, 0, len(items))
	for _, it := range items {
		g, err := policy.ParseGlob(it.Value)
		if err != nil {
			diags = append(diags, errorAt(summaryInvalidGlob,
				fmt.Sprintf("Path pattern %s: %s. Patterns are paths whose segments may be \"*\" (one segment) or \"**\" (any number).", shown(it.Expr, it.Value), shownErr(it.Expr, err)),
				it.Expr.Range(), attr.Range.Ptr()))
			continue
		}
		globs = append(globs, g)
	}
	return globs, diags
}

// decodeVerbs reads a non-empty list of HTTP methods into a policy.Verb set.
// Names are exact and upper case; no verb implies another.
func decodeVerbs(attr *hcl.Attribute, ctx *hcl.EvalContext) (policy.Verb, hcl.Diagnostics) {
	items, diags := decodeStringList(attr, ctx)
	if diags.HasErrors() {
		return 0, diags
	}
	if len(items) == 0 {
		return 0, append(diags, errorAt(summaryEmptyList,
			`verbs is empty, so the grant would match nothing. List at least one method, such as ["GET", "HEAD"].`,
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	verbs, d := verbsOf(items, attr, "Verbs", "a verb a grant can name")
	return verbs, append(diags, d...)
}

// verbsOf parses list items as HTTP methods, reporting each unknown one at
// its element; noun and what word the messages ("Verbs", "a verb a grant
// can name").
func verbsOf(items []listItem, attr *hcl.Attribute, noun, what string) (policy.Verb, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var verbs policy.Verb
	for _, it := range items {
		v, ok := policy.ParseVerb(it.Value)
		if !ok {
			hint := "Use one of " + strings.Join(policy.VerbNames(), ", ") + "."
			if _, upper := policy.ParseVerb(strings.ToUpper(it.Value)); upper {
				hint = fmt.Sprintf("%s are upper case: write %s.", noun, shown(it.Expr, strings.ToUpper(it.Value)))
			}
			diags = append(diags, errorAt(summaryUnknownVerb,
				fmt.Sprintf("%s is not %s. %s", shown(it.Expr, it.Value), what, hint),
				it.Expr.Range(), attr.Range.Ptr()))
			continue
		}
		verbs |= v
	}
	return verbs, diags
}

// validRecordsPath accepts the paths records.ParsePath accepts ("name" or
// "a.b.c" with non-empty segments) but for the empty one, those over 256
// bytes and those with a segment that begins or ends with a space.
func validRecordsPath(p string) bool {
	if p == "" || len(p) > 256 {
		return false
	}
	segs, err := records.ParsePath(p)
	if err != nil {
		return false
	}
	for _, seg := range segs {
		if strings.TrimSpace(seg) != seg {
			return false
		}
	}
	return true
}

// filterCache shares, within one load, one compiled program among grants
// with the same filter text and one records plan among filtered grants with
// the same records path and filter fields (programs are immutable, plans
// safe for concurrent use), so a config with thousands of similar grants
// builds a handful. Failures are not cached: each is reported at its own
// position. It is safe for concurrent use (files are decoded in parallel).
type filterCache struct {
	mu    sync.Mutex
	progs map[string]*filter.Program
	plans map[string]*records.Plan
}

// plan sets the records plan of g, a grant with a compiled filter or
// field protection (policy.NewProtectedRecordPlan). A plan that cannot be
// built is reported at the records attribute when the path is at fault
// (too deep for the nesting limit), else at the filter (a member name it
// reads that no record can have).
func (fc *filterCache) plan(g *Grant, recAttr, filterAttr *hcl.Attribute) hcl.Diagnostics {
	fields := []string{} // fields without a filter: no member is read
	if g.Program != nil {
		fields = g.Program.Fields()
	}
	key := g.Records + "\x00" + strings.Join(fields, "\x00")
	if fields == nil {
		key += "\x00*" // all fields, unlike an empty list
	}
	if g.Fields != nil {
		key += "\x01" + fieldsKey(g.Fields)
	}
	fc.mu.Lock()
	p, ok := fc.plans[key]
	fc.mu.Unlock()
	if ok {
		g.Plan = p
		return nil
	}
	p, err := policy.NewProtectedRecordPlan(g.Records, fields, g.Fields)
	if err != nil {
		attr := filterAttr
		if _, perr := policy.NewRecordPlan(g.Records, nil); (perr != nil || attr == nil) && recAttr != nil {
			attr = recAttr
		}
		if attr == nil { // cannot happen: only a records path or filter fails
			return hcl.Diagnostics{errorAt(summaryUnfilterableRecords,
				fmt.Sprintf("Record filtering cannot be set up for this grant: %v.", err), g.DeclRange, nil)}
		}
		return hcl.Diagnostics{errorAt(summaryUnfilterableRecords,
			fmt.Sprintf("Record filtering cannot be set up for this grant: %v.", err),
			attr.Expr.Range(), attr.Range.Ptr())}
	}
	fc.mu.Lock()
	if fc.plans == nil {
		fc.plans = map[string]*records.Plan{}
	}
	if first, ok := fc.plans[key]; ok {
		p = first // built by another file's goroutine meanwhile: share its plan
	} else {
		fc.plans[key] = p
	}
	fc.mu.Unlock()
	g.Plan = p
	return nil
}

func (fc *filterCache) compile(src string, attr *hcl.Attribute) (*filter.Program, hcl.Diagnostics) {
	fc.mu.Lock()
	p, ok := fc.progs[src]
	fc.mu.Unlock()
	if ok {
		return p, nil
	}
	p, diags := compileFilter(src, attr)
	if p != nil {
		fc.mu.Lock()
		if fc.progs == nil {
			fc.progs = map[string]*filter.Program{}
		}
		if first, ok := fc.progs[src]; ok {
			p = first // compiled by another file's goroutine meanwhile
		} else {
			fc.progs[src] = p
		}
		fc.mu.Unlock()
	}
	return p, diags
}

// compileFilter compiles a grant's filter and reports an error at its
// position inside the HCL string, as closely as the source allows.
func compileFilter(src string, attr *hcl.Attribute) (*filter.Program, hcl.Diagnostics) {
	prog, err := filter.Compile(src)
	if err == nil {
		return prog, nil
	}
	subject := attr.Expr.Range()
	var fe *filter.Error
	msg := err.Error()
	if errors.As(err, &fe) {
		msg = fe.Message
		subject = filterErrorRange(attr.Expr, src, fe.Line, fe.Column)
	}
	return nil, hcl.Diagnostics{errorAt(summaryInvalidFilterExpr,
		fmt.Sprintf("The filter does not compile: %s. Filters are expr-lang expressions over record, user, app, role, lookup and request that yield true or false; see docs/filters.md.", msg),
		subject, attr.Range.Ptr())}
}

// filterErrorRange maps an expr position (1-based line, 0-based column in
// runes) into the HCL file. It is exact when the string's source has no
// escape sequences (its length equals the value's) and points at the whole
// string otherwise.
func filterErrorRange(expr hcl.Expression, src string, line, col int) hcl.Range {
	r := expr.Range()
	tpl, ok := expr.(*hclsyntax.TemplateExpr)
	if !ok || len(tpl.Parts) != 1 {
		return r
	}
	lit, ok := tpl.Parts[0].(*hclsyntax.LiteralValueExpr)
	if !ok || lit.SrcRange.End.Byte-lit.SrcRange.Start.Byte != len(src) {
		return r
	}
	off := 0 // byte offset of (line, col) in src
	for l := 1; l < line; l++ {
		i := strings.IndexByte(src[off:], '\n')
		if i < 0 {
			return r
		}
		off += i + 1
	}
	lineStart := off
	for c := 0; c < col && off < len(src) && src[off] != '\n'; c++ {
		_, size := utf8.DecodeRuneInString(src[off:])
		off += size
	}
	start := lit.SrcRange.Start
	pos := hcl.Pos{Line: start.Line + line - 1, Column: utf8.RuneCountInString(src[lineStart:off]) + 1, Byte: start.Byte + off}
	if line <= 1 {
		pos.Column += start.Column - 1
	}
	end := pos
	if off < len(src) {
		_, size := utf8.DecodeRuneInString(src[off:])
		end.Column++
		end.Byte += size
	}
	return hcl.Range{Filename: r.Filename, Start: pos, End: end}
}
