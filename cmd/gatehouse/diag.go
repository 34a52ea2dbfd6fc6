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
	lines := make([]string, 0, len(e.diags))
	for _, d := range e.diags {
		lines = append(lines, d.Error())
	}
	return strings.Join(lines, "\n")
}
