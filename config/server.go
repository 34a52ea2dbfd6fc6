package config

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
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
		{Name: "shutdown_delay"},
		{Name: "admin_token_sha256"},
		{Name: "tls_listen"},
		{Name: "strip_headers"},
		{Name: "keep_headers"},
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
		case "admin_token_sha256":
			var h [32]byte
			if h, d = decodeSHA256(attr, ctx, summaryInvalidTokenHash, "token", "Run `gatehouse keygen --admin-token` to create a token and its hash."); !d.HasErrors() {
				s.AdminTokenSHA256 = &h
			}
		case "shutdown_delay":
			// 0 (the default) starts shutting down at once.
			s.ShutdownDelay, d = decodeDuration(attr, ctx, true)
		case "strip_headers":
			s.StripHeaders, d = decodeStripHeaders(attr, ctx)
		case "keep_headers":
			s.KeepHeaders, d = decodeKeepHeaders(attr, ctx, content.Attributes["strip_headers"])
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

// decodeStripHeaders reads strip_headers: header names, or "Name*" for
// every name that begins with Name, removed from client requests besides
// the default list (policy.DefaultClientHeaders).
func decodeStripHeaders(attr *hcl.Attribute, ctx *hcl.EvalContext) ([]string, hcl.Diagnostics) {
	items, diags := decodeStringList(attr, ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	out := make([]string, 0, len(items))
	seen := map[string]bool{}
	for _, it := range items {
		p, err := policy.ParseClientHeaderPattern(it.Value)
		switch {
		case err != nil:
			diags = append(diags, errorAt(summaryInvalidHeader,
				fmt.Sprintf(`%s in strip_headers is %v: write a name such as "X-Tenant-Admin", or "X-Corp-*" for every name that begins with "X-Corp-".`, shown(it.Expr, it.Value), err),
				it.Expr.Range(), attr.Range.Ptr()))
		case seen[p]:
			diags = append(diags, errorAt(summaryDuplicateKeyInMap,
				fmt.Sprintf("%s is listed twice in strip_headers (names match in any case, with \"_\" for \"-\").", shown(it.Expr, it.Value)),
				it.Expr.Range(), attr.Range.Ptr()))
		default:
			seen[p] = true
			out = append(out, it.Value)
		}
	}
	return out, diags
}

// decodeKeepHeaders reads keep_headers: names from the default list of
// client headers that are forwarded anyway. A name the default list does
// not cover, one it never forwards, or one strip_headers also names is an
// error.
func decodeKeepHeaders(attr *hcl.Attribute, ctx *hcl.EvalContext, stripAttr *hcl.Attribute) ([]string, hcl.Diagnostics) {
	items, diags := decodeStringList(attr, ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	var strip []string // folded strip_headers patterns
	if stripAttr != nil {
		// Its valid entries; its diagnostics come once, from its own case.
		list, _ := decodeStripHeaders(stripAttr, ctx)
		for _, e := range list {
			p, _ := policy.ParseClientHeaderPattern(e)
			strip = append(strip, p)
		}
	}
	out := make([]string, 0, len(items))
	seen := map[string]bool{}
	for _, it := range items {
		folded := strings.ToLower(strings.ReplaceAll(it.Value, "_", "-"))
		if err := policy.KeepableClientHeader(it.Value); err != nil {
			diags = append(diags, errorAt(summaryInvalidHeader,
				fmt.Sprintf("%s cannot be in keep_headers: %v. keep_headers takes names from the default list (docs/security.md, \"What the upstream sees\"), such as \"X-Forwarded-Prefix\".", shown(it.Expr, it.Value), err),
				it.Expr.Range(), attr.Range.Ptr()))
			continue
		}
		if seen[folded] {
			diags = append(diags, errorAt(summaryDuplicateKeyInMap,
				fmt.Sprintf("%s is listed twice in keep_headers (names match in any case, with \"_\" for \"-\").", shown(it.Expr, it.Value)),
				it.Expr.Range(), attr.Range.Ptr()))
			continue
		}
		seen[folded] = true
		for _, p := range strip {
			if name, prefix := strings.CutSuffix(p, "*"); folded == p || prefix && strings.HasPrefix(folded, name) {
				diags = append(diags, errorAt(summaryInvalidHeader,
					fmt.Sprintf("%s is in keep_headers and matches %q in strip_headers; remove it from one of them.", shown(it.Expr, it.Value), p),
					it.Expr.Range(), attr.Range.Ptr()))
				break
			}
		}
		out = append(out, it.Value)
	}
	return out, diags
}
