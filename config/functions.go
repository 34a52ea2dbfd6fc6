package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// maxFileBytes bounds what file() reads, so a path such as a huge log file
// cannot exhaust memory during a reload.
const maxFileBytes = 1 << 20

// evalContext returns the context every expression of one configuration file
// is evaluated in: the functions env() and file() (relative to basedir, the
// directory of that file) and no variables.
func evalContext(basedir string) *hcl.EvalContext {
	return &hcl.EvalContext{
		Functions: map[string]function.Function{
			"env":  envFunc(),
			"file": fileFunc(basedir),
		},
	}
}

// unsetEnvError is returned by env() for a variable that is not set.
type unsetEnvError struct{ name string }

func (e *unsetEnvError) Error() string {
	return fmt.Sprintf("environment variable %q is not set", e.name)
}

// fileError is returned by file() for a file it cannot or will not read.
type fileError struct {
	arg  string // as written in the call
	path string // resolved
	err  error
}

func (e *fileError) Error() string { return fmt.Sprintf("read %s: %v", e.path, e.err) }

// envFunc implements env("NAME"): the value of an environment variable. A
// variable that is not set is an error (an empty one is returned as ""), so
// a missing secret never silently becomes an empty string.
func envFunc() function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			name := args[0].AsString()
			v, ok := os.LookupEnv(name)
			if !ok || name == "" {
				return cty.UnknownVal(cty.String), &unsetEnvError{name: name}
			}
			if !utf8.ValidString(v) {
				return cty.UnknownVal(cty.String), fmt.Errorf("environment variable %q is not valid UTF-8", name)
			}
			return cty.StringVal(v), nil
		},
	})
}

// fileFunc implements file("path"): the content of a regular file, verbatim
// (a trailing newline is kept). Relative paths are relative to basedir. It
// refuses anything but a regular file (a FIFO or device could block or never
// end), files over maxFileBytes and content that is not UTF-8.
func fileFunc(basedir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the content of a file, relative to the calling file's directory.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			arg := args[0].AsString()
			p := arg
			if !filepath.IsAbs(p) {
				p = filepath.Join(basedir, p)
			}
			b, err := readSmallFile(p)
			if err != nil {
				return cty.UnknownVal(cty.String), &fileError{arg: arg, path: p, err: err}
			}
			return cty.StringVal(string(b)), nil
		},
	})
}

func readSmallFile(p string) ([]byte, error) {
	// Check before opening: opening a FIFO for reading blocks.
	if st, err := os.Stat(p); err != nil {
		return nil, unwrapPathError(err)
	} else if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, unwrapPathError(err)
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, unwrapPathError(err)
	}
	if len(b) > maxFileBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxFileBytes)
	}
	if !utf8.Valid(b) {
		return nil, errors.New("not valid UTF-8 text")
	}
	return b, nil
}

// unwrapPathError drops the operation and path from an *os.PathError; the
// caller reports the path itself.
func unwrapPathError(err error) error {
	if pe, ok := errors.AsType[*os.PathError](err); ok {
		return pe.Err
	}
	return err
}

// evalExpr evaluates expr and rewrites the diagnostics of failed env() and
// file() calls into their own summaries, with the whole call as Subject.
func evalExpr(expr hcl.Expression, ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	v, diags := expr.Value(ctx)
	for _, d := range diags {
		extra, ok := hcl.DiagnosticExtra[hclsyntax.FunctionCallDiagExtra](d)
		if !ok || extra.FunctionCallError() == nil {
			continue
		}
		if d.Context != nil {
			d.Subject = d.Context // the whole call, e.g. env("X")
		}
		err := extra.FunctionCallError()
		if ue, ok := errors.AsType[*unsetEnvError](err); ok {
			d.Summary = summaryUnsetEnv
			d.Detail = fmt.Sprintf("env(%q) needs the environment variable %s, which is not set. Export it where gatehouse starts (export %s=...).",
				ue.name, ue.name, ue.name)
		} else if fe, ok := errors.AsType[*fileError](err); ok {
			d.Summary = summaryUnreadableFile
			d.Detail = fmt.Sprintf("file(%q) cannot read %s: %v. Relative paths are relative to the directory of the file that calls file().",
				fe.arg, fe.path, fe.err)
		}
	}
	return v, diags
}
