package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// Typed leaves. Every helper evaluates one expression, reports problems at
// that expression (Subject) within its attribute (Context), and returns the
// zero value together with error diagnostics when the value is unusable.

// evalAs evaluates expr and converts the result to want. A null value is an
// error: leave the argument out to get its default.
func evalAs(name string, expr hcl.Expression, context hcl.Range, ctx *hcl.EvalContext, want cty.Type) (cty.Value, hcl.Diagnostics) {
	v, diags := evalExpr(expr, ctx)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	if v.IsNull() {
		return cty.NilVal, append(diags, errorAt(summaryWrongType,
			fmt.Sprintf("%s must be a %s, not null. Remove the argument to use its default.", name, want.FriendlyName()),
			expr.Range(), context.Ptr()))
	}
	cv, err := convert.Convert(v, want)
	if err != nil {
		return cty.NilVal, append(diags, errorAt(summaryWrongType,
			fmt.Sprintf("%s must be a %s, got %s. %s", name, want.FriendlyName(), v.Type().FriendlyName(), typeHint(want)),
			expr.Range(), context.Ptr()))
	}
	if !cv.IsWhollyKnown() || cv.IsMarked() {
		return cty.NilVal, append(diags, errorAt(summaryWrongType,
			fmt.Sprintf("%s must be a known %s.", name, want.FriendlyName()),
			expr.Range(), context.Ptr()))
	}
	return cv, diags
}

// typeHint shows how to write a value of type t.
func typeHint(t cty.Type) string {
	switch {
	case t == cty.Bool:
		return "Write true or false, without quotes."
	case t == cty.Number:
		return "Write a number without quotes, such as 1048576."
	case t == cty.String:
		return `Write a quoted string, such as "30s".`
	case t.IsListType():
		return `Write a list in brackets, such as ["a", "b"].`
	}
	return ""
}

func decodeString(attr *hcl.Attribute, ctx *hcl.EvalContext) (string, hcl.Diagnostics) {
	return evalString(attr.Name, attr.Expr, attr.Range, ctx)
}

func evalString(name string, expr hcl.Expression, context hcl.Range, ctx *hcl.EvalContext) (string, hcl.Diagnostics) {
	if s, ok := literalString(expr); ok {
		return s, nil
	}
	v, diags := evalAs(name, expr, context, ctx, cty.String)
	if diags.HasErrors() {
		return "", diags
	}
	return v.AsString(), diags
}

func decodeBool(attr *hcl.Attribute, ctx *hcl.EvalContext) (bool, hcl.Diagnostics) {
	v, diags := evalAs(attr.Name, attr.Expr, attr.Range, ctx, cty.Bool)
	if diags.HasErrors() {
		return false, diags
	}
	return v.True(), diags
}

// literalString returns the value of a plain quoted string ("text", no
// interpolation): the same string evaluating it gives, without the cost of
// evaluating (most strings of a large config are such literals).
func literalString(expr hcl.Expression) (string, bool) {
	t, ok := expr.(*hclsyntax.TemplateExpr)
	if !ok || len(t.Parts) != 1 {
		return "", false
	}
	l, ok := t.Parts[0].(*hclsyntax.LiteralValueExpr)
	if !ok || l.Val.Type() != cty.String || l.Val.IsNull() || !l.Val.IsKnown() || l.Val.IsMarked() {
		return "", false
	}
	return l.Val.AsString(), true
}

// listItem is one string of a list attribute with the range to blame for it.
type listItem struct {
	Value string
	Expr  hcl.Expression // the element's expression, or the whole list's
}

// decodeStringList evaluates a list of strings. For a literal list
// ("[a, b]") each element is evaluated on its own so that a later check can
// point at the bad element; any other expression is evaluated whole.
func decodeStringList(attr *hcl.Attribute, ctx *hcl.EvalContext) ([]listItem, hcl.Diagnostics) {
	if exprs, d := hcl.ExprList(attr.Expr); !d.HasErrors() {
		var diags hcl.Diagnostics
		items := make([]listItem, 0, len(exprs))
		for i, e := range exprs {
			if s, ok := literalString(e); ok {
				items = append(items, listItem{Value: s, Expr: e})
				continue
			}
			s, d := evalString(fmt.Sprintf("%s[%d]", attr.Name, i), e, attr.Range, ctx)
			diags = append(diags, d...)
			if !d.HasErrors() {
				items = append(items, listItem{Value: s, Expr: e})
			}
		}
		return items, diags
	}
	v, diags := evalAs(attr.Name, attr.Expr, attr.Range, ctx, cty.List(cty.String))
	if diags.HasErrors() {
		return nil, diags
	}
	items := make([]listItem, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		if ev.IsNull() {
			return nil, append(diags, errorAt(summaryWrongType,
				fmt.Sprintf("%s must not contain null.", attr.Name), attr.Expr.Range(), attr.Range.Ptr()))
		}
		items = append(items, listItem{Value: ev.AsString(), Expr: attr.Expr})
	}
	return items, diags
}

// decodeDuration parses a Go duration string such as "30s" or "1m30s". It
// refuses negative values, and zero unless allowZero.
func decodeDuration(attr *hcl.Attribute, ctx *hcl.EvalContext, allowZero bool) (time.Duration, hcl.Diagnostics) {
	s, diags := decodeString(attr, ctx)
	if diags.HasErrors() {
		return 0, diags
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, append(diags, errorAt(summaryInvalidDuration,
			fmt.Sprintf("%s = %s is not a duration. Write a number with a unit, such as \"30s\", \"5m\" or \"1h30m\".", attr.Name, shown(attr.Expr, s)),
			attr.Expr.Range(), attr.Range.Ptr()))
	case d < 0:
		return 0, append(diags, errorAt(summaryInvalidDuration,
			fmt.Sprintf("%s = %s is negative. Use a positive duration such as \"30s\".", attr.Name, shown(attr.Expr, s)),
			attr.Expr.Range(), attr.Range.Ptr()))
	case d == 0 && !allowZero:
		return 0, append(diags, errorAt(summaryInvalidDuration,
			fmt.Sprintf("%s must be greater than zero. Use a duration such as \"10s\".", attr.Name),
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	return d, diags
}

// decodeSize reads a whole number of bytes in 1..limit.
func decodeSize(attr *hcl.Attribute, ctx *hcl.EvalContext, limit int64) (int64, hcl.Diagnostics) {
	return decodeWhole(attr, ctx, 1, limit, func(shown string) string {
		rng := "greater than zero"
		if limit < math.MaxInt64 {
			rng = fmt.Sprintf("from 1 to %d", limit)
		}
		return fmt.Sprintf("%s = %s is not a whole number of bytes %s. Write a plain number, such as 1048576 for 1 MiB.", attr.Name, shown, rng)
	})
}

// decodeSizeOrZero reads a size in bytes from 0 to limit.
func decodeSizeOrZero(attr *hcl.Attribute, ctx *hcl.EvalContext, limit int64) (int64, hcl.Diagnostics) {
	return decodeWhole(attr, ctx, 0, limit, func(shown string) string {
		return fmt.Sprintf("%s = %s is not a whole number of bytes, zero or greater. Write a plain number, such as 65536 for 64 KiB, or 0 to stream every body.", attr.Name, shown)
	})
}

// decodeWhole reads a whole number from least to limit; detail words the error.
func decodeWhole(attr *hcl.Attribute, ctx *hcl.EvalContext, least, limit int64, detail func(shown string) string) (int64, hcl.Diagnostics) {
	v, diags := evalAs(attr.Name, attr.Expr, attr.Range, ctx, cty.Number)
	if diags.HasErrors() {
		return 0, diags
	}
	bf := v.AsBigFloat()
	n, acc := bf.Int64()
	if !bf.IsInt() || acc != big.Exact || n < least || n > limit {
		return 0, append(diags, errorAt(summaryInvalidSize, detail(shownNumber(attr.Expr, bf)), attr.Expr.Range(), attr.Range.Ptr()))
	}
	return n, diags
}

// decodeCount reads a whole number of items from 1 to limit.
func decodeCount(attr *hcl.Attribute, ctx *hcl.EvalContext, limit int64) (int64, hcl.Diagnostics) {
	return decodeWhole(attr, ctx, 1, limit, func(shown string) string {
		return fmt.Sprintf("%s = %s is not a whole number from 1 to %d.", attr.Name, shown, limit)
	})
}

// decodeAddress reads a listen address "host:port" with a numeric port;
// the host may be empty (all interfaces).
func decodeAddress(attr *hcl.Attribute, ctx *hcl.EvalContext) (string, hcl.Diagnostics) {
	s, diags := decodeString(attr, ctx)
	if diags.HasErrors() {
		return "", diags
	}
	_, port, err := net.SplitHostPort(s)
	if err == nil {
		if _, perr := strconv.ParseUint(port, 10, 16); perr != nil {
			err = fmt.Errorf("port %q is not a number from 0 to 65535", port)
		}
	}
	if err != nil {
		return "", append(diags, errorAt(summaryInvalidAddress,
			fmt.Sprintf("%s = %s is not a host:port address (%s). Write for example \":8080\" or \"127.0.0.1:9901\".", attr.Name, shown(attr.Expr, s), shownErr(attr.Expr, err)),
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	return s, diags
}

func validPort(p string) bool {
	n, err := strconv.ParseUint(p, 10, 16)
	return err == nil && n > 0
}

// decodeCIDR parses a trusted proxy: a CIDR prefix or a bare IP address
// (a /32 or /128). It refuses prefixes with host bits set (the intent is
// unclear), zones, and IPv4-mapped IPv6 forms, which would never match since
// peers are compared in their unmapped form.
func decodeCIDR(item listItem, context hcl.Range) (netip.Prefix, *hcl.Diagnostic) {
	s := item.Value
	bad := func(why string) *hcl.Diagnostic {
		return errorAt(summaryInvalidCIDR,
			fmt.Sprintf("%s is not a CIDR prefix or IP address: %s. Write for example \"10.0.0.0/8\", \"192.0.2.7\" or \"2001:db8::/32\".", shown(item.Expr, s), why),
			item.Expr.Range(), context.Ptr())
	}
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return p, bad("it does not parse")
		}
		if p.Masked() != p {
			return p, bad(fmt.Sprintf("host bits are set (did you mean %q?)", p.Masked().String()))
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return p, bad("it does not parse")
		}
		if a.Zone() != "" {
			return p, bad("zones are not allowed")
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() {
		return p, bad("IPv4-mapped IPv6 addresses never match; write the IPv4 form")
	}
	return p, nil
}

// decodeURL reads an upstream base URL: absolute http or https with a host,
// no credentials, query or fragment, and a path without dot or empty
// segments.
func decodeURL(attr *hcl.Attribute, ctx *hcl.EvalContext) (*url.URL, hcl.Diagnostics) {
	s, diags := decodeString(attr, ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	bad := func(why, hint string) (*url.URL, hcl.Diagnostics) {
		return nil, append(diags, errorAt(summaryInvalidURL,
			fmt.Sprintf("url = %s %s. %s", shown(attr.Expr, s), why, hint),
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	const example = `Write for example "http://127.0.0.1:9002" or "https://hr.internal/api".`
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return bad("does not parse", example)
	case u.Scheme != "http" && u.Scheme != "https":
		return bad("must use http or https", example)
	case u.Opaque != "" || u.Hostname() == "":
		return bad("has no host", example)
	case u.Port() != "" && !validPort(u.Port()):
		return bad("has a port outside 1-65535", example)
	case u.User != nil:
		return bad("contains credentials",
			"Credentials in a URL end up in logs and process listings; remove them (forwarding of upstream credentials is configured separately).")
	case u.RawQuery != "" || u.ForceQuery:
		return bad("has a query", "The query of each request is forwarded as sent; remove \"?…\" from the base URL.")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return bad("has a fragment", "Fragments are never sent to servers; remove \"#…\".")
	}
	if u.Path != "" {
		if _, err := policy.ParsePath(u.EscapedPath()); err != nil {
			return bad(fmt.Sprintf("has an unusable path (%v)", err), "Use a plain path such as \"/api\".")
		}
	}
	return u, diags
}

// lookupValue converts a lookup value to Go: string, bool, int64 for whole
// numbers that fit, else float64.
func lookupValue(v cty.Value) (any, error) {
	if v.IsNull() || !v.IsWhollyKnown() || v.IsMarked() {
		return nil, fmt.Errorf("a lookup must be a string, number or bool, not null")
	}
	switch v.Type() {
	case cty.String:
		return v.AsString(), nil
	case cty.Bool:
		return v.True(), nil
	case cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInt() {
			if n, acc := bf.Int64(); acc == big.Exact {
				return n, nil
			}
		}
		f, _ := bf.Float64()
		if math.IsInf(f, 0) {
			return nil, fmt.Errorf("the number is too large")
		}
		return f, nil
	}
	return nil, fmt.Errorf("a lookup must be a string, number or bool, not %s", v.Type().FriendlyName())
}

// lookupName reads the name of one entry of a lookups object: a valid
// lookup name that seen (the names of the entries before it) lacks.
func lookupName(kv hcl.KeyValuePair, attr *hcl.Attribute, ctx *hcl.EvalContext, seen map[string]hcl.Range) (string, hcl.Diagnostics) {
	name, diags := evalString("lookup key", kv.Key, attr.Range, ctx)
	switch {
	case diags.HasErrors():
	case !nameRE.MatchString(name):
		diags = append(diags, errorAt(summaryInvalidName,
			fmt.Sprintf("%q is not a valid lookup name. %s", name, badNameDetail), kv.Key.Range(), attr.Range.Ptr()))
	default:
		if first, dup := seen[name]; dup {
			diags = append(diags, errorAt(summaryDuplicateLookup,
				fmt.Sprintf("Lookup %q is set twice; %s. Remove one.", name, firstDeclared(first)), kv.Key.Range(), attr.Range.Ptr()))
		}
	}
	return name, diags
}

// decodeLookupMap reads an object of lookups such as { tenant = "t1" }. For
// a literal object each key and value is checked on its own, so that
// diagnostics point at the bad entry.
func decodeLookupMap(attr *hcl.Attribute, ctx *hcl.EvalContext) (map[string]any, hcl.Diagnostics) {
	pairs, d := hcl.ExprMap(attr.Expr)
	if d.HasErrors() {
		return decodeLookupValueMap(attr, ctx)
	}
	var diags hcl.Diagnostics
	out := make(map[string]any, len(pairs))
	seen := make(map[string]hcl.Range, len(pairs))
	for _, kv := range pairs {
		key, d := lookupName(kv, attr, ctx, seen)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		seen[key] = kv.Key.Range()
		val, d := decodeLookupValue(key, kv.Value, ctx, attr.Range)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		out[key] = val
	}
	return out, diags
}

// decodeLookupValueMap is decodeLookupMap for non-literal expressions.
func decodeLookupValueMap(attr *hcl.Attribute, ctx *hcl.EvalContext) (map[string]any, hcl.Diagnostics) {
	v, diags := evalExpr(attr.Expr, ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	ty := v.Type()
	if v.IsNull() || !v.IsWhollyKnown() || v.IsMarked() || !(ty.IsObjectType() || ty.IsMapType()) {
		return nil, append(diags, errorAt(summaryWrongType,
			fmt.Sprintf("%s must be an object such as { tenant = \"t1\" }, got %s.", attr.Name, ty.FriendlyName()),
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	out := make(map[string]any, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		key := k.AsString()
		if !nameRE.MatchString(key) {
			diags = append(diags, errorAt(summaryInvalidName,
				fmt.Sprintf("%q is not a valid lookup name. %s", key, badNameDetail), attr.Expr.Range(), attr.Range.Ptr()))
			continue
		}
		val, err := lookupValue(ev)
		if err != nil {
			diags = append(diags, errorAt(summaryInvalidLookup,
				fmt.Sprintf("Lookup %q: %v. Use a string, a number or true/false.", key, err), attr.Expr.Range(), attr.Range.Ptr()))
			continue
		}
		out[key] = val
	}
	return out, diags
}

// decodeLookupValue evaluates one lookup value: a string, a number or a bool.
func decodeLookupValue(name string, expr hcl.Expression, ctx *hcl.EvalContext, context hcl.Range) (any, hcl.Diagnostics) {
	v, diags := evalExpr(expr, ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	val, err := lookupValue(v)
	if err != nil {
		return nil, append(diags, errorAt(summaryInvalidLookup,
			fmt.Sprintf("Lookup %q: %v. Use a string, a number or true/false.", name, err), expr.Range(), context.Ptr()))
	}
	return val, diags
}

// decodeSHA256 reads a SHA-256 written as 64 hex digits, either case
// (api_key_sha256, admin_token_sha256), of the secret named what ("key",
// "token"); summary and hint (how to make one) make the diagnostic. The
// value is never echoed: a mistake here is often the secret itself,
// pasted instead of its hash. The hash of the empty string is refused.
func decodeSHA256(attr *hcl.Attribute, ctx *hcl.EvalContext, summary, what, hint string) ([32]byte, hcl.Diagnostics) {
	var h [32]byte
	empty := sha256.Sum256(nil) // never a secret's hash
	s, diags := decodeString(attr, ctx)
	if diags.HasErrors() {
		return h, diags
	}
	if len(s) == hex.EncodedLen(len(h)) {
		if _, err := hex.Decode(h[:], []byte(s)); err == nil && h != empty {
			return h, diags
		}
	}
	why := fmt.Sprintf("has %d characters", len(s))
	switch {
	case h == empty:
		// `echo -n "$TOKEN" | sha256sum` with TOKEN unset: a secret
		// nobody has to know.
		why = "is the SHA-256 of the empty string (was the variable you hashed empty?)"
	case strings.TrimSpace(s) != s:
		why = "has leading or trailing whitespace (file() keeps the final newline)"
	case len(s) == 64:
		why = "contains characters that are not hex digits"
	}
	return [32]byte{}, append(diags, errorAt(summary,
		fmt.Sprintf("The value of %s %s; it must be exactly 64 hex digits, the SHA-256 of the %s. %s", attr.Name, why, what, hint),
		attr.Expr.Range(), attr.Range.Ptr()))
}
