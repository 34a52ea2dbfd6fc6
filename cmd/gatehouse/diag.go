package main

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// diagError carries config diagnostics through an error, rendering them the
// way `gatehouse validate` prints them.
type diagError struct {
	files map[string]*hcl.File
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
