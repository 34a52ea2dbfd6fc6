// Package filter compiles and runs record filters: expr-lang expressions
// (github.com/expr-lang/expr) that decide, for one JSON record, whether the
// caller may see it (responses) or write it (request bodies).
//
// A filter is compiled once, at config load, against the typed Env below:
// unknown top-level names, unknown members of user and request, and results
// whose type is known not to be a boolean are compile errors with a line
// and column; a result whose type is only known at run time (record.active)
// that is not a boolean counts as "not visible". record
// and lookup are maps: a member a record lacks is nil, never a zero value,
// so `record.levle <= 3` (a typo) is a runtime error for every record, and a
// runtime error means "not visible". The package is pure: no I/O.
//
// Bounds: an expression has at most MaxNodes syntax nodes; one evaluation
// may use at most MemoryBudget units of expr's memory accounting (ranges,
// arrays and maps built while running count against it); builtins that
// build large values from small ones (repeat) or parse text (fromJSON,
// fromBase64) are not available. expr has no unbounded loops: its
// iterating builtins run over values whose size the budget bounds.
package filter

import (
	"errors"
	"fmt"
	"slices"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// Limits of one filter.
const (
	MaxNodes     = 1000
	MaxSource    = 4096 // bytes of expression source
	MemoryBudget = 100_000
)

// disabled are builtins a filter cannot call.
var disabled = []string{"repeat", "fromJSON", "toJSON", "fromBase64", "toBase64"}

// Env is what a filter sees. Field tags give the names used in
// expressions.
type Env struct {
	Record  map[string]any `expr:"record"`  // the JSON record
	User    User           `expr:"user"`    // the session's user; zero without one
	App     string         `expr:"app"`     // app name
	Role    string         `expr:"role"`    // role name
	Lookup  map[string]any `expr:"lookup"`  // merged lookups: user > role > app > system
	Request Request        `expr:"request"` // the request being filtered
}

// User describes the caller's session.
type User struct {
	Name     string   `expr:"name"`
	Email    string   `expr:"email"`
	Groups   []string `expr:"groups"`
	Provider string   `expr:"provider"`
}

// Request describes the request.
type Request struct {
	Method string            `expr:"method"`
	Path   string            `expr:"path"`  // path below the upstream prefix
	Query  map[string]string `expr:"query"` // first value of each query parameter
}

// Program is a compiled filter.
type Program struct {
	src     string
	prog    *vm.Program
	fields  []string // record members read; nil = the whole record
	lookups []string // lookup members read (sorted, unique); nil when dynamic
	dynamic bool     // lookup is indexed by a computed key
	pure    bool     // see Pure
}

// Error is a compile error at a position inside the expression source
// (1-based line, 0-based column in runes, as expr reports them).
type Error struct {
	Line, Column int
	Message      string
}

func (e *Error) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Message) }

// getFn is the function the compiler substitutes for record.x and
// lookup.x (see fastMembers). It is not an identifier, so an expression
// cannot name it (only $env["·get"] reaches it, which is harmless).
const getFn = "·get"

// compileEnv declares the names a filter sees and their types. A map, not
// the Env struct: expr loads a map env's names with one map index, a
// struct's by reflection. Unknown names are compile errors all the same.
var compileEnv = map[string]any{
	"record":  map[string]any(nil),
	"user":    User{},
	"app":     "",
	"role":    "",
	"lookup":  map[string]any(nil),
	"request": Request{},
	getFn:     get,
}

// get is getFn: m[k], nil for a missing key, as expr's own member access
// on a map[string]any gives (by reflection, about 100 ns a time).
// Its type is one expr calls without reflection or an argument slice.
func get(m, k any) any {
	mm, _ := m.(map[string]any)
	kk, _ := k.(string)
	return mm[kk]
}

// fastMembers rewrites record.x and lookup.x (constant names, not
// optional) into getFn(record, "x"): the same value, without reflection.
type fastMembers struct{}

func (fastMembers) Visit(n *ast.Node) {
	m, ok := (*n).(*ast.MemberNode)
	if !ok || m.Optional || m.Method {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok || (id.Value != "record" && id.Value != "lookup") {
		return
	}
	prop, ok := m.Property.(*ast.StringNode)
	if !ok {
		return
	}
	ast.Patch(n, &ast.CallNode{
		Callee:    &ast.IdentifierNode{Value: getFn},
		Arguments: []ast.Node{id, prop},
	})
}

// Compile compiles src.
func Compile(src string) (*Program, error) {
	if len(src) > MaxSource {
		return nil, &Error{Line: 1, Message: fmt.Sprintf("the expression is longer than %d bytes", MaxSource)}
	}
	// What the filter reads, from the tree as written.
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, compileError(err)
	}
	opts := []expr.Option{
		expr.Env(compileEnv), expr.AsBool(), expr.MaxNodes(MaxNodes),
		expr.Patch(fastMembers{}),
	}
	for _, b := range disabled {
		opts = append(opts, expr.DisableBuiltin(b))
	}
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, compileError(err)
	}
	p := &Program{src: src, prog: prog}
	p.fields, p.lookups, p.dynamic = members(tree.Node)
	p.pure = p.fields != nil && !callsImpure(tree.Node)
	return p, nil
}

func compileError(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		return &Error{Line: fe.Line, Column: fe.Column, Message: fe.Message}
	}
	return &Error{Line: 1, Message: err.Error()}
}

// Source returns the expression as written.
func (p *Program) Source() string { return p.src }

// Fields returns the record members the filter reads, or nil when it reads
// the record as a whole or by computed keys.
func (p *Program) Fields() []string { return p.fields }

// Lookups returns the lookup names the filter reads by constant name, and
// whether it also indexes lookup with computed keys.
func (p *Program) Lookups() (names []string, dynamic bool) { return p.lookups, p.dynamic }

// Pure reports whether, within one Bind, the result (and whether it is an
// error) depends only on the values of the record members in Fields: two
// records whose read members hold the same values get the same answer, so
// a caller may reuse it. False when the filter reads the record as a whole
// or calls now(), the one builtin whose result changes by itself.
func (p *Program) Pure() bool { return p.pure }

// impure are the builtins whose result is not a function of their
// arguments.
var impure = []string{"now"}

// callsImpure reports whether the tree calls an impure builtin (or reads
// $env, through which anything may be reached).
func callsImpure(root ast.Node) bool {
	v := &impureFinder{}
	ast.Walk(&root, v)
	return v.found
}

type impureFinder struct{ found bool }

func (f *impureFinder) Visit(n *ast.Node) {
	switch node := (*n).(type) {
	case *ast.BuiltinNode:
		f.found = f.found || slices.Contains(impure, node.Name)
	case *ast.CallNode:
		if id, ok := node.Callee.(*ast.IdentifierNode); ok {
			f.found = f.found || slices.Contains(impure, id.Value)
		}
	case *ast.IdentifierNode:
		f.found = f.found || node.Value == "$env"
	}
}

// Evaluator runs a program. It reuses its VM and its variables between
// calls, so it is not safe for concurrent use: use one per goroutine (e.g.
// per request).
type Evaluator struct {
	vm   vm.VM
	vars map[string]any
}

// Eval reports whether env's record passes. Any runtime error (a missing
// field compared with a number, a type mismatch, the memory budget) is
// returned with false: callers treat it as "does not pass".
func (e *Evaluator) Eval(p *Program, env *Env) (bool, error) {
	e.Bind(env)
	return e.EvalRecord(p, env.Record)
}

// Bind sets what EvalRecord evaluates against, apart from the record: the
// caller's values, which stay the same for every record of a request.
func (e *Evaluator) Bind(env *Env) {
	if e.vars == nil {
		e.vars = map[string]any{getFn: get}
	}
	e.vars["user"] = env.User
	e.vars["app"] = env.App
	e.vars["role"] = env.Role
	e.vars["lookup"] = env.Lookup
	e.vars["request"] = env.Request
	e.vars["record"] = env.Record
}

// EvalRecord is Eval of rec with the values of the last Bind.
func (e *Evaluator) EvalRecord(p *Program, rec map[string]any) (bool, error) {
	if e.vars == nil {
		e.Bind(&Env{})
	}
	e.vars["record"] = rec
	e.vm.MemoryBudget = MemoryBudget
	out, err := e.vm.Run(p.prog, e.vars)
	if err != nil {
		return false, err
	}
	ok, isBool := out.(bool)
	return ok && isBool, nil
}

// members walks the syntax tree for record.x and lookup.x accesses with
// constant names. Any other use of record (record[expr], keys(record),
// record itself) makes fields nil: the whole record is needed.
func members(root ast.Node) (fields, lookups []string, dynamic bool) {
	v := &collector{}
	ast.Walk(&root, v)
	if v.recordIdents != v.recordConst || v.env {
		fields = nil
	} else {
		fields = uniqueSorted(v.fields)
		if fields == nil {
			fields = []string{} // reads no field
		}
	}
	return fields, uniqueSorted(v.lookups), v.lookupIdents != v.lookupConst || v.env
}

type collector struct {
	fields, lookups           []string
	recordIdents, recordConst int
	lookupIdents, lookupConst int
	env                       bool // $env: any member may be read
}

func (c *collector) Visit(n *ast.Node) {
	switch node := (*n).(type) {
	case *ast.IdentifierNode:
		switch node.Value {
		case "record":
			c.recordIdents++
		case "lookup":
			c.lookupIdents++
		case "$env":
			c.env = true
		}
	case *ast.MemberNode:
		id, ok := node.Node.(*ast.IdentifierNode)
		if !ok {
			return
		}
		prop, ok := node.Property.(*ast.StringNode)
		if !ok {
			return
		}
		switch id.Value {
		case "record":
			c.recordConst++
			c.fields = append(c.fields, prop.Value)
		case "lookup":
			c.lookupConst++
			c.lookups = append(c.lookups, prop.Value)
		}
	}
}

func uniqueSorted(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}
