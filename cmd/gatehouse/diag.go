package main

import (
	"bytes"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// diagError carries config diagnostics through an error, rendering them the
// way `gatehouse validate` prints them.
type diagError struct {
	files map[string]*hcl.File
	diags hcl.Diagnostics
}

func (e diagError) Error() string {
	var b bytes.Buffer
	wr := hcl.NewDiagnosticTextWriter(&b, e.files, 0, false)
	_ = wr.WriteDiagnostics(e.diags)
	return strings.TrimSpace(b.String())
}
