package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// The tests of `gatehouse test`: `test "name" { request { … } expect { … } }`
// blocks in *_test.hcl files next to the configuration. Load never reads
// them; LoadTests decodes them into Tests, which the policytest package
// runs against a compiled snapshot. docs/policy-testing.md describes the
// language.

// Diagnostic summaries of test files (stable, like the others).
const (
	summaryDuplicateTest = "Duplicate test"
	summaryMissingBlock  = "Missing block"
	summaryInvalidMethod = "Invalid method"
	summaryInvalidTarget = "Invalid target"
	summaryInvalidExpect = "Invalid expectation"
	summaryNoTests       = "No tests"
)

// IsTestFile reports whether a file name is a test file of `gatehouse
// test` (ends in "_test.hcl"), which Load ignores.
func IsTestFile(name string) bool { return strings.HasSuffix(name, "_test.hcl") }

// Test is one decoded test block.
type Test struct {
	Name      string
	DeclRange hcl.Range // the block's "test "name"" header
	Request   TestRequest
	Expect    TestExpect
}

// TestRequest is who sends what. Identity: App alone (the app's API key);
// User with App (a local user's session); User or LDAPGroups with Provider
// (an LDAP or OAuth login's session); Admin (an admin session, App
// optional); nothing (no credential).
type TestRequest struct {
	App        string
	User       string
	Admin      string
	Provider   string
	LDAPGroups []string
	// Lookups are the lookups the provider's block would have captured at
	// login (the directory's attributes, the provider's claims), by lookup
	// name; nil for none. Only with Provider.
	Lookups map[string]string
	Method  string
	Target  string // origin form: "/path?query"
	Headers map[string]string
	Body    []byte // nil without a body
	// Ranges of the attributes given, by name, for diagnostics the runner
	// reports against the snapshot (unknown app, user, …).
	Ranges map[string]hcl.Range
}

// TestExpect is what must hold; the zero value of a field means "not
// checked".
type TestExpect struct {
	Status          int
	Decision        string // "allow", "deny" or ""
	Reason          string
	DryRun          string // "would_allow", "would_deny", "none" (no dry-run outcome) or "" (not checked)
	Grant           string // "file.hcl:LINE" or "file.hcl:LINE,COL"
	UpstreamHeaders map[string]string
	Response        []byte // a JSON response the upstream would give, or nil
	Records         []int  // indexes of the records kept; nil = not checked
	HasRecords      bool
	Ranges          map[string]hcl.Range

	// HiddenFields and MaskedFields are the deciding grant's hide_fields
	// and mask_fields paths, in any order; nil = not checked.
	HiddenFields, MaskedFields []string
}

var testFileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{{Type: "test", LabelNames: []string{"name"}}},
}

var testBlockSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{{Type: "request"}, {Type: "expect"}},
}

var testRequestSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "app"}, {Name: "user"}, {Name: "admin"}, {Name: "provider"}, {Name: "ldap_groups"},
		{Name: "lookups"}, {Name: "method", Required: true}, {Name: "target", Required: true}, {Name: "headers"}, {Name: "body"},
	},
}

var testExpectSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "status"}, {Name: "decision"}, {Name: "reason"}, {Name: "dry_run"}, {Name: "grant"},
		{Name: "upstream_headers"}, {Name: "response"}, {Name: "records"},
		{Name: "hidden_fields"}, {Name: "masked_fields"},
	},
}

// TestFiles lists the test files of a configuration path: the *_test.hcl
// files of the directory (path itself, or the directory of a file), sorted
// by name, without those starting with ".".
func TestFiles(path string) ([]string, hcl.Diagnostics) {
	dir := path
	if st, err := os.Stat(path); err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summaryCannotRead,
			Detail: fmt.Sprintf("Cannot read configuration %s: %v.", path, unwrapPathError(err))}}
	} else if !st.IsDir() {
		dir = filepath.Dir(path)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summaryCannotRead,
			Detail: fmt.Sprintf("Cannot read directory %s: %v.", dir, unwrapPathError(err))}}
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".") || !IsTestFile(n) || e.IsDir() {
			continue
		}
		names = append(names, filepath.Join(dir, n))
	}
	return names, nil
}

// testEvalContext is evalContext with jsonencode(), for bodies and
// responses written as HCL values.
func testEvalContext(basedir string) *hcl.EvalContext {
	ctx := evalContext(basedir)
	fns := make(map[string]function.Function, len(ctx.Functions)+1)
	for k, v := range ctx.Functions {
		fns[k] = v
	}
	fns["jsonencode"] = stdlib.JSONEncodeFunc
	ctx.Functions = fns
	return ctx
}

// LoadTests reads and decodes test files. It returns the tests, the parsed
// files (for diagnostics with snippets) and every problem found, with
// positions. A file with no test block is an error. When diags has errors,
// some tests are incomplete: check their names against a snapshot
// (policytest.Check) to report everything at once, but run none.
func LoadTests(names []string) ([]*Test, map[string]*hcl.File, hcl.Diagnostics) {
	files := make(map[string]*hcl.File, len(names))
	var tests []*Test
	var diags hcl.Diagnostics
	seen := map[string]hcl.Range{}
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summaryCannotRead,
				Detail: fmt.Sprintf("Cannot read %s: %v.", name, unwrapPathError(err))})
			continue
		}
		f, d := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
		files[name] = f
		if d.HasErrors() {
			diags = append(diags, syntaxCause(name, src, d)...)
			continue
		}
		ctx := testEvalContext(filepath.Dir(name))
		content, d := f.Body.Content(testFileSchema)
		diags = append(diags, d...)
		n := 0
		for _, b := range content.Blocks {
			t, d := decodeTestBlock(b, ctx)
			diags = append(diags, d...)
			n++
			if first, dup := seen[t.Name]; dup {
				diags = append(diags, errorAt(summaryDuplicateTest,
					fmt.Sprintf("A test named %q is already declared; %s. Give each test its own name.", t.Name, firstDeclared(first)),
					b.LabelRanges[0], &b.DefRange))
				continue
			}
			seen[t.Name] = b.DefRange
			tests = append(tests, t)
		}
		if n == 0 && !d.HasErrors() {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summaryNoTests,
				Detail:  fmt.Sprintf("%s has no test block. Add one (test \"name\" { request { … } expect { … } }) or remove the file.", name),
				Subject: &hcl.Range{Filename: name, Start: hcl.InitialPos, End: hcl.InitialPos}})
		}
	}
	SortDiagnostics(diags)
	return tests, files, diags
}

func decodeTestBlock(b *hcl.Block, ctx *hcl.EvalContext) (*Test, hcl.Diagnostics) {
	t := &Test{Name: b.Labels[0], DeclRange: b.DefRange}
	content, diags := b.Body.Content(testBlockSchema)
	if strings.TrimSpace(t.Name) == "" {
		diags = append(diags, errorAt(summaryInvalidName, "A test needs a name.", b.LabelRanges[0], &b.DefRange))
	}
	var req, exp *hcl.Block
	for _, c := range content.Blocks {
		first := &req
		if c.Type == "expect" {
			first = &exp
		}
		if *first != nil {
			diags = append(diags, errorAt(summaryMissingBlock,
				fmt.Sprintf("A test has one %s block; %s.", c.Type, firstDeclared((*first).DefRange)), c.DefRange, &b.DefRange))
			continue
		}
		*first = c
	}
	for _, m := range []struct {
		name string
		b    *hcl.Block
	}{{"request", req}, {"expect", exp}} {
		if m.b == nil {
			diags = append(diags, errorAt(summaryMissingBlock,
				fmt.Sprintf("Test %q has no %s block. A test is a request and what must come of it.", t.Name, m.name), b.DefRange, nil))
		}
	}
	if req != nil {
		diags = append(diags, decodeTestRequest(&t.Request, req, ctx)...)
	}
	if exp != nil {
		diags = append(diags, decodeTestExpect(&t.Expect, exp, ctx)...)
	}
	return t, diags
}

func decodeTestRequest(r *TestRequest, b *hcl.Block, ctx *hcl.EvalContext) hcl.Diagnostics {
	content, diags := b.Body.Content(testRequestSchema)
	r.Ranges = map[string]hcl.Range{}
	for name, a := range content.Attributes {
		r.Ranges[name] = a.Expr.Range()
		var d hcl.Diagnostics
		switch name {
		case "app":
			r.App, d = decodeString(a, ctx)
		case "user":
			r.User, d = decodeString(a, ctx)
		case "admin":
			r.Admin, d = decodeString(a, ctx)
		case "provider":
			r.Provider, d = decodeString(a, ctx)
		case "ldap_groups":
			var items []listItem
			items, d = decodeStringList(a, ctx)
			for _, it := range items {
				r.LDAPGroups = append(r.LDAPGroups, it.Value)
			}
		case "lookups":
			r.Lookups, d = decodeStringMap(a, ctx)
		case "method":
			r.Method, d = decodeString(a, ctx)
			if !d.HasErrors() && !validMethod(r.Method) {
				d = append(d, errorAt(summaryInvalidMethod,
					fmt.Sprintf("%q is not an HTTP method. Write it in capitals, such as \"GET\" or \"POST\".", r.Method), a.Expr.Range(), &a.Range))
			}
		case "target":
			r.Target, d = decodeString(a, ctx)
			if !d.HasErrors() && !strings.HasPrefix(r.Target, "/") {
				d = append(d, errorAt(summaryInvalidTarget,
					fmt.Sprintf("target %q must start with \"/\": a path and an optional query, as in \"/hr/employees?dept=7\".", r.Target), a.Expr.Range(), &a.Range))
			}
		case "headers":
			r.Headers, d = decodeStringMap(a, ctx)
		case "body":
			var s string
			s, d = decodeString(a, ctx)
			r.Body = []byte(s)
		}
		diags = append(diags, d...)
	}
	switch {
	case r.Admin != "" && (r.User != "" || r.Provider != "" || r.LDAPGroups != nil):
		diags = append(diags, errorAt(summaryConflictingArgs,
			"admin is a session of its own: leave out user, provider and ldap_groups.", r.Ranges["admin"], &b.DefRange))
	case r.Lookups != nil && r.Provider == "":
		diags = append(diags, errorAt(summaryMissingRequired,
			"lookups are the values an ldap or oauth block captures at login: add provider, the name of that block.", r.Ranges["lookups"], &b.DefRange))
	case r.LDAPGroups != nil && r.Provider == "":
		diags = append(diags, errorAt(summaryMissingRequired,
			"ldap_groups needs provider, the name of the ldap block the user logged in with.", r.Ranges["ldap_groups"], &b.DefRange))
	case r.User != "" && r.Provider == "" && r.App == "":
		diags = append(diags, errorAt(summaryMissingRequired,
			"A user session is sent with the API key of the app it was issued for: add app.", r.Ranges["user"], &b.DefRange))
	}
	return diags
}

// summaryConflictingArgs: two arguments of a test request that exclude
// each other.
const summaryConflictingArgs = "Conflicting arguments"

func decodeTestExpect(e *TestExpect, b *hcl.Block, ctx *hcl.EvalContext) hcl.Diagnostics {
	content, diags := b.Body.Content(testExpectSchema)
	e.Ranges = map[string]hcl.Range{}
	for name, a := range content.Attributes {
		e.Ranges[name] = a.Expr.Range()
		var d hcl.Diagnostics
		switch name {
		case "status":
			var n int64
			n, d = decodeWhole(a, ctx, 100, 599, func(shown string) string {
				return fmt.Sprintf("status must be an HTTP status from 100 to 599, got %s.", shown)
			})
			e.Status = int(n)
		case "decision":
			e.Decision, d = decodeString(a, ctx)
			if !d.HasErrors() && e.Decision != "allow" && e.Decision != "deny" {
				d = append(d, errorAt(summaryInvalidExpect,
					fmt.Sprintf("decision must be \"allow\" or \"deny\", got %q.", e.Decision), a.Expr.Range(), &a.Range))
			}
		case "reason":
			e.Reason, d = decodeString(a, ctx)
		case "dry_run":
			e.DryRun, d = decodeString(a, ctx)
			if !d.HasErrors() && e.DryRun != "would_allow" && e.DryRun != "would_deny" && e.DryRun != "none" {
				d = append(d, errorAt(summaryInvalidExpect,
					fmt.Sprintf("dry_run must be \"would_allow\", \"would_deny\" or \"none\", got %q.", e.DryRun), a.Expr.Range(), &a.Range))
			}
		case "grant":
			e.Grant, d = decodeString(a, ctx)
			if !d.HasErrors() && !validGrantRef(e.Grant) {
				d = append(d, errorAt(summaryInvalidExpect,
					fmt.Sprintf("grant must name where a grant is declared, \"FILE.hcl:LINE\" (or \"FILE.hcl:LINE,COL\"), got %q.", e.Grant), a.Expr.Range(), &a.Range))
			}
		case "upstream_headers":
			e.UpstreamHeaders, d = decodeStringMap(a, ctx)
		case "hidden_fields", "masked_fields":
			var items []listItem
			items, d = decodeStringList(a, ctx)
			paths := []string{}
			for _, it := range items {
				paths = append(paths, it.Value)
			}
			if name == "hidden_fields" {
				e.HiddenFields = paths
			} else {
				e.MaskedFields = paths
			}
		case "response":
			var s string
			s, d = decodeString(a, ctx)
			e.Response = []byte(s)
		case "records":
			var v cty.Value
			v, d = evalAs("records", a.Expr, a.Range, ctx, cty.List(cty.Number))
			if !d.HasErrors() {
				e.HasRecords = true
				e.Records = []int{}
				for _, x := range v.AsValueSlice() {
					bf := x.AsBigFloat()
					i, acc := bf.Int64()
					if !bf.IsInt() || acc != 0 || i < 0 || i > 1<<30 {
						d = append(d, errorAt(summaryInvalidExpect,
							"records are the indexes (0, 1, …) of the records kept, in document order.", a.Expr.Range(), &a.Range))
						break
					}
					e.Records = append(e.Records, int(i))
				}
			}
		}
		diags = append(diags, d...)
	}
	if len(content.Attributes) == 0 && !diags.HasErrors() {
		diags = append(diags, errorAt(summaryInvalidExpect,
			"expect checks nothing. Give status or decision, and optionally reason, grant, upstream_headers, hidden_fields, masked_fields or response and records.", b.DefRange, nil))
	}
	if _, ok := content.Attributes["records"]; ok && e.Response == nil {
		diags = append(diags, errorAt(summaryMissingRequired,
			"records are those kept of a response: add response, the JSON the upstream would answer.", e.Ranges["records"], &b.DefRange))
	}
	if _, ok := content.Attributes["response"]; ok && !e.HasRecords {
		diags = append(diags, errorAt(summaryMissingRequired,
			"response is filtered to check records: add records, the indexes of the records that must be kept.", e.Ranges["response"], &b.DefRange))
	}
	return diags
}

// decodeStringMap decodes a map of strings (headers).
func decodeStringMap(a *hcl.Attribute, ctx *hcl.EvalContext) (map[string]string, hcl.Diagnostics) {
	v, diags := evalAs(a.Name, a.Expr, a.Range, ctx, cty.Map(cty.String))
	if diags.HasErrors() {
		return nil, diags
	}
	out := make(map[string]string, v.LengthInt())
	for k, x := range v.AsValueMap() {
		out[k] = x.AsString()
	}
	return out, diags
}

// validMethod: an HTTP token in capitals (methods are case-sensitive, and
// lower-case ones are almost always a mistake).
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if (c < 'A' || c > 'Z') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// validGrantRef: "file.hcl:LINE" or "file.hcl:LINE,COL".
func validGrantRef(s string) bool {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return false
	}
	line, col, hasCol := strings.Cut(s[i+1:], ",")
	return digits(line) && (!hasCol || digits(col))
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
