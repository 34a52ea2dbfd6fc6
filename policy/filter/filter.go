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
}

// Error is a compile error at a position inside the expression source
// (1-based line, 0-based column in runes, as expr reports them).
type Error struct {
	Line, Column int
	Message      string
}

func (e *Error) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Message) }

// Compile compiles src.
func Compile(src string) (*Program, error) {
	if len(src) > MaxSource {
		return nil, &Error{Line: 1, Message: fmt.Sprintf("the expression is longer than %d bytes", MaxSource)}
	}
	opts := []expr.Option{expr.Env(Env{}), expr.AsBool(), expr.MaxNodes(MaxNodes)}
	for _, b := range disabled {
		opts = append(opts, expr.DisableBuiltin(b))
	}
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			return nil, &Error{Line: fe.Line, Column: fe.Column, Message: fe.Message}
		}
		return nil, &Error{Line: 1, Message: err.Error()}
	}
	p := &Program{src: src, prog: prog}
	p.fields, p.lookups, p.dynamic = members(prog.Node())
	return p, nil
}

// Source returns the expression as written.
func (p *Program) Source() string { return p.src }

// Fields returns the record members the filter reads, or nil when it reads
// the record as a whole or by computed keys.
func (p *Program) Fields() []string { return p.fields }

// Lookups returns the lookup names the filter reads by constant name, and
// whether it also indexes lookup with computed keys.
func (p *Program) Lookups() (names []string, dynamic bool) { return p.lookups, p.dynamic }

// Evaluator runs a program. It reuses its VM between calls, so it is not
// safe for concurrent use: use one per goroutine (e.g. per request).
type Evaluator struct {
	vm vm.VM
}

// Eval reports whether env's record passes. Any runtime error (a missing
// field compared with a number, a type mismatch, the memory budget) is
// returned with false: callers treat it as "does not pass".
func (e *Evaluator) Eval(p *Program, env *Env) (bool, error) {
	e.vm.MemoryBudget = MemoryBudget
	out, err := e.vm.Run(p.prog, env)
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
