package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/gatehouse-dev/gatehouse/policy/records"
)

// Field protection on allow grants: hide_fields = ["salary", "bank.iban"]
// and mask_fields = { ssn = "***" } (records.Protection).

// fieldItem is one rule of hide_fields or mask_fields with where it was
// written: the list element, or the map key (the mask's value at valExpr).
type fieldItem struct {
	rule    records.FieldRule
	expr    hcl.Expression
	valExpr hcl.Expression // mask_fields only
	attr    *hcl.Attribute
}

// decodeFieldRules compiles a grant's hide_fields and mask_fields (either
// may be nil) into its field protection, reporting each bad path or mask
// at its own element and each conflict at the later of the two paths.
func decodeFieldRules(hideAttr, maskAttr *hcl.Attribute, ctx *hcl.EvalContext) (*records.Protection, hcl.Diagnostics) {
	var items []fieldItem
	var diags hcl.Diagnostics
	if hideAttr != nil {
		list, d := decodeStringList(hideAttr, ctx)
		diags = append(diags, d...)
		for _, it := range list {
			items = append(items, fieldItem{rule: records.FieldRule{Path: it.Value}, expr: it.Expr, attr: hideAttr})
		}
	}
	if maskAttr != nil {
		m, d := decodeMaskMap(maskAttr, ctx)
		diags = append(diags, d...)
		items = append(items, m...)
	}
	if diags.HasErrors() || len(items) == 0 {
		return nil, diags
	}
	// Each path on its own first, so that every bad one is reported.
	ok := true
	for _, it := range items {
		if _, err := records.ParseFieldPath(it.rule.Path); err != nil {
			ok = false
			diags = append(diags, errorAt(summaryInvalidFieldPath,
				fmt.Sprintf("Field %s: %s. A field is a dot path of JSON member names from the record, such as \"salary\" or \"bank.iban\".", shown(it.expr, it.rule.Path), shownErr(it.expr, err)),
				it.expr.Range(), it.attr.Range.Ptr()))
		}
	}
	if !ok {
		return nil, diags
	}
	rules := make([]records.FieldRule, len(items))
	for i, it := range items {
		rules[i] = it.rule
	}
	prot, err := records.NewProtection(rules)
	var fe *records.FieldError
	switch {
	case err == nil:
		return prot, diags
	case errors.As(err, &fe) && fe.Index < len(items):
		it := items[fe.Index]
		subject := it.expr.Range()
		if fe.Other < 0 {
			if it.valExpr != nil {
				subject = it.valExpr.Range()
			}
			return nil, append(diags, errorAt(summaryInvalidMask, fmt.Sprintf("mask_fields: %v.", err), subject, it.attr.Range.Ptr()))
		}
		other := items[fe.Other]
		summary, detail := summaryDuplicateField, "names the same member as"
		if len(strings.Split(it.rule.Path, ".")) != len(strings.Split(other.rule.Path, ".")) {
			summary, detail = summaryConflictingFields, "and the field"
		}
		msg := fmt.Sprintf("Field %q %s %q (%s). Member names match in any case and spelling a JSON decoder may take for them, so each member may be hidden or masked once, and not also inside a hidden or masked member. Remove one.",
			it.rule.Path, detail, other.rule.Path, firstDeclared(other.expr.Range()))
		if summary == summaryConflictingFields {
			msg = fmt.Sprintf("Field %q and field %q (%s): one names a member inside the other. Hiding or masking the outer member already covers the inner one; remove one.",
				it.rule.Path, other.rule.Path, firstDeclared(other.expr.Range()))
		}
		return nil, append(diags, errorAt(summary, msg, subject, it.attr.Range.Ptr()))
	}
	attr := hideAttr
	if attr == nil {
		attr = maskAttr
	}
	return nil, append(diags, errorAt(summaryInvalidFieldPath, fmt.Sprintf("Field protection: %v.", err), attr.Expr.Range(), attr.Range.Ptr()))
}

// decodeMaskMap reads mask_fields = { path = value, … }: each value a
// string, number, bool or null, turned into its JSON text.
func decodeMaskMap(attr *hcl.Attribute, ctx *hcl.EvalContext) ([]fieldItem, hcl.Diagnostics) {
	pairs, diags := hcl.ExprMap(attr.Expr)
	if diags.HasErrors() {
		return nil, hcl.Diagnostics{errorAt(summaryWrongType,
			`mask_fields must be an object literal such as { ssn = "***", "bank.iban" = null }.`,
			attr.Expr.Range(), attr.Range.Ptr())}
	}
	diags = nil
	var items []fieldItem
	for _, kv := range pairs {
		key, d := evalString("mask_fields key", kv.Key, attr.Range, ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		v, d := evalExpr(kv.Value, ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		mask, err := maskJSON(v)
		if err != nil {
			diags = append(diags, errorAt(summaryInvalidMask,
				fmt.Sprintf("mask_fields %q: %v. A mask is a constant: a string, a number, true, false or null.", key, err),
				kv.Value.Range(), attr.Range.Ptr()))
			continue
		}
		items = append(items, fieldItem{rule: records.FieldRule{Path: key, Mask: mask}, expr: kv.Key, valExpr: kv.Value, attr: attr})
	}
	return items, diags
}

// maskJSON returns the JSON text of a mask value.
func maskJSON(v cty.Value) ([]byte, error) {
	switch {
	case v.IsMarked() || !v.IsWhollyKnown():
		return nil, errors.New("the value is not a constant")
	case v.IsNull():
		return []byte("null"), nil
	}
	switch v.Type() {
	case cty.String:
		return json.Marshal(v.AsString())
	case cty.Bool:
		return []byte(strconv.FormatBool(v.True())), nil
	case cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInf() {
			return nil, errors.New("infinity is not JSON")
		}
		if bf.IsInt() {
			return []byte(bf.Text('f', 0)), nil
		}
		f, _ := bf.Float64()
		return []byte(strconv.FormatFloat(f, 'g', -1, 64)), nil
	}
	return nil, fmt.Errorf("got %s", v.Type().FriendlyName())
}

// fieldsKey identifies a field protection for sharing plans.
func fieldsKey(p *records.Protection) string {
	var b strings.Builder
	for _, r := range p.Rules() {
		b.WriteString(r.Path)
		if r.Mask != nil {
			b.WriteString("\x02")
			b.Write(r.Mask)
		}
		b.WriteString("\x03")
	}
	return b.String()
}
