package main

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// diagError carries config diagnostics through an error.
type diagError struct {
	diags hcl.Diagnostics
}

// Error lists the diagnostics one per line, "file:line,col-col: Summary;
// Detail".
func (e diagError) Error() string {
	lines, _ := e.Diagnostics()
	return strings.Join(lines, "\n")
}

// Diagnostics returns every diagnostic, one line each, and how many are
// errors (reload.Diagnosed).
func (e diagError) Diagnostics() (lines []string, errs int) {
	for _, d := range e.diags {
		lines = append(lines, d.Error())
	}
	return lines, len(e.diags.Errs())
}
