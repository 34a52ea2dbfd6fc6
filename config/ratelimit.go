package config

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// Bounds of a rate_limit block.
const (
	maxRateRequests = 1_000_000
	maxRatePeriod   = 24 * time.Hour
)

// rateLimitBlock is the header of a rate_limit block, nested in app, role,
// user and allow blocks (at most one in each).
var rateLimitBlock = hcl.BlockHeaderSchema{Type: "rate_limit"}

// rateLimitSchema is the body of rate_limit { … }.
var rateLimitSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "requests", Required: true},
		{Name: "period", Required: true},
		{Name: "burst"},
	},
}

// decodeRateLimit decodes the rate_limit block among blocks (those of
// other types are skipped), or returns nil when there is none. A second
// one is an error at its header.
func decodeRateLimit(blocks hcl.Blocks, ctx *hcl.EvalContext) (*policy.RateLimitSpec, hcl.Diagnostics) {
	var spec *policy.RateLimitSpec
	var first *hcl.Block
	var diags hcl.Diagnostics
	for _, b := range blocks {
		if b.Type != rateLimitBlock.Type {
			continue
		}
		if first != nil {
			diags = append(diags, errorAt(summaryDuplicateRateLimit,
				fmt.Sprintf("A block has at most one rate_limit; the first is at %s. Write the one limit it should have.", first.DefRange),
				b.DefRange, nil))
			continue
		}
		first = b
		s, d := decodeRateLimitBlock(b, ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			spec = s
		}
	}
	return spec, diags
}

// decodeRateLimitBlock decodes rate_limit { requests = 100  period = "1m"
// burst = 20 }: requests from 1 to maxRateRequests, a period of whole
// seconds from 1s to maxRatePeriod, burst from 1 (default: requests).
func decodeRateLimitBlock(block *hcl.Block, ctx *hcl.EvalContext) (*policy.RateLimitSpec, hcl.Diagnostics) {
	content, diags := block.Body.Content(rateLimitSchema)
	s := &policy.RateLimitSpec{Origin: origin(block.DefRange)}
	var d hcl.Diagnostics
	if attr := content.Attributes["requests"]; attr != nil {
		s.Requests, d = decodeRateCount(attr, ctx, "how many requests the period lets through, such as 100")
		diags = append(diags, d...)
	}
	if attr := content.Attributes["period"]; attr != nil {
		s.Period, d = decodeDuration(attr, ctx, false)
		if !d.HasErrors() && (s.Period < time.Second || s.Period%time.Second != 0 || s.Period > maxRatePeriod) {
			d = append(d, errorAt(summaryInvalidRateLimit,
				fmt.Sprintf("period = %s: a rate limit's period is a whole number of seconds from 1s to 24h, such as \"1s\", \"1m\" or \"1h\" (clients read it as seconds in RateLimit-Policy).", s.Period),
				attr.Expr.Range(), attr.Range.Ptr()))
		}
		diags = append(diags, d...)
	}
	s.Burst = s.Requests
	if attr := content.Attributes["burst"]; attr != nil {
		s.Burst, d = decodeRateCount(attr, ctx, "how many requests may come at once, at least 1")
		diags = append(diags, d...)
	}
	return s, diags
}

// decodeRateCount reads a whole number from 1 to maxRateRequests; what
// says what it counts.
func decodeRateCount(attr *hcl.Attribute, ctx *hcl.EvalContext, what string) (int, hcl.Diagnostics) {
	n, diags := decodeWhole(attr, ctx, 1, maxRateRequests, func(shown string) string {
		return fmt.Sprintf("%s = %s is not a whole number from 1 to %d: write %s.", attr.Name, shown, maxRateRequests, what)
	})
	if diags.HasErrors() {
		for _, d := range diags {
			if d.Summary == summaryInvalidSize {
				d.Summary = summaryInvalidRateLimit
			}
		}
	}
	return int(n), diags
}
