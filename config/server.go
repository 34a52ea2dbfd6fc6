package config

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// serverSchema is the server block. At most one may exist across all files.
var serverSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "listen"},
		{Name: "admin_listen"},
		{Name: "production"},
		{Name: "trusted_proxies"},
		{Name: "max_body_bytes"},
		{Name: "body_buffer_bytes"},
		{Name: "max_header_bytes"},
		{Name: "identity_headers"},
		{Name: "read_header_timeout"},
		{Name: "read_timeout"},
		{Name: "write_timeout"},
		{Name: "idle_timeout"},
		{Name: "shutdown_timeout"},
		{Name: "tls_listen"},
	},
}

// defaultServer returns the settings used for everything a server block
// leaves out, or when there is none. They fail closed: production mode is on
// and every timeout but write_timeout is finite.
func defaultServer() *Server {
	return &Server{
		Listen:            ":8080",
		AdminListen:       "127.0.0.1:9901",
		Production:        true,
		MaxBodyBytes:      10 << 20,
		BodyBufferBytes:   64 << 10,
		MaxHeaderBytes:    64 << 10,
		IdentityHeaders:   true,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      0,
		IdleTimeout:       120 * time.Second,
		ShutdownTimeout:   30 * time.Second,
	}
}

// decodeServerBlock decodes a server block over the defaults.
func decodeServerBlock(block *hcl.Block, ctx *hcl.EvalContext) (*Server, hcl.Diagnostics) {
	content, diags := block.Body.Content(serverSchema)
	s := defaultServer()
	s.DeclRange = block.DefRange
	addrErr := false
	for _, as := range serverSchema.Attributes {
		attr := content.Attributes[as.Name]
		if attr == nil {
			continue
		}
		var d hcl.Diagnostics
		switch as.Name {
		case "listen":
			s.Listen, d = decodeAddress(attr, ctx)
			addrErr = addrErr || d.HasErrors()
		case "admin_listen":
			s.AdminListen, d = decodeAddress(attr, ctx)
			addrErr = addrErr || d.HasErrors()
		case "production":
			s.Production, d = decodeBool(attr, ctx)
		case "trusted_proxies":
			s.TrustedProxies, d = decodeTrustedProxies(attr, ctx)
		case "max_body_bytes":
			s.MaxBodyBytes, d = decodeSize(attr, ctx, math.MaxInt64)
		case "body_buffer_bytes":
			// 0 streams every body (see docs/config.md for the trade-off).
			s.BodyBufferBytes, d = decodeSizeOrZero(attr, ctx, math.MaxInt64)
		case "max_header_bytes":
			var n int64
			n, d = decodeSize(attr, ctx, math.MaxInt32)
			s.MaxHeaderBytes = int(n)
		case "identity_headers":
			s.IdentityHeaders, d = decodeBool(attr, ctx)
		case "read_header_timeout":
			// Zero would leave slow clients unbounded while sending headers.
			s.ReadHeaderTimeout, d = decodeDuration(attr, ctx, false)
		case "read_timeout":
			s.ReadTimeout, d = decodeDuration(attr, ctx, true)
		case "write_timeout":
			s.WriteTimeout, d = decodeDuration(attr, ctx, true)
		case "idle_timeout":
			s.IdleTimeout, d = decodeDuration(attr, ctx, true)
		case "shutdown_timeout":
			s.ShutdownTimeout, d = decodeDuration(attr, ctx, true)
		case "tls_listen":
			// Checked against listen and admin_listen in checkTLS, which
			// knows whether a tls block exists.
			s.TLSListen, d = decodeAddress(attr, ctx)
			s.TLSListenRange = attr.Expr.Range()
		}
		diags = append(diags, d...)
	}
	if !addrErr {
		attr := content.Attributes["admin_listen"]
		if attr == nil {
			attr = content.Attributes["listen"]
		}
		if attr != nil && sameListener(s.Listen, s.AdminListen) {
			diags = append(diags, errorAt(summaryInvalidAddress,
				fmt.Sprintf("admin_listen %q overlaps listen %q; the admin API must never be served on the public listener. Use another port, e.g. \"127.0.0.1:9901\".", s.AdminListen, s.Listen),
				attr.Expr.Range(), attr.Range.Ptr()))
		}
	}
	return s, diags
}

// sameListener reports whether two listen addresses would bind the same
// port on a shared interface. Port 0 (pick any) never conflicts.
func sameListener(a, b string) bool {
	ha, pa, err1 := net.SplitHostPort(a)
	hb, pb, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || pa != pb || pa == "0" {
		return false
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wild(ha) || wild(hb)
}

func decodeTrustedProxies(attr *hcl.Attribute, ctx *hcl.EvalContext) ([]netip.Prefix, hcl.Diagnostics) {
	items, diags := decodeStringList(attr, ctx)
	out := make([]netip.Prefix, 0, len(items))
	for _, it := range items {
		p, d := decodeCIDR(it, attr.Range)
		if d != nil {
			diags = append(diags, d)
			continue
		}
		out = append(out, p)
	}
	return out, diags
}
