package oauth

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Why a claim gave its lookup no value (Identity.LookupsRefused).
const (
	RefusedNotScalar = "claim is not a string, number or boolean"
	RefusedBadJSON   = "claim does not parse"
)

// claimLookups takes the value of each lookup (by name, the claim it
// reads) from the ID token's claims, else from userinfo's (nil when not
// asked): a string as it is, a number as its JSON text ("42", "1.5"), a
// boolean as "true" or "false". A claim that is absent or null from both
// gives no value; an array or an object is refused (its lookup gets no
// value, whatever userinfo says). Claim names are top-level members of
// the claims object: "org.id" is a member called that, not a path.
func claimLookups(lookups map[string]string, idToken, userinfo map[string]json.RawMessage) (vals, refused map[string]string) {
	for name, claim := range lookups {
		raw, ok := present(idToken, claim)
		if !ok {
			raw, ok = present(userinfo, claim)
		}
		if !ok {
			continue
		}
		v, why := claimText(raw)
		if why != "" {
			if refused == nil {
				refused = map[string]string{}
			}
			refused[name] = why
			continue
		}
		if vals == nil {
			vals = make(map[string]string, len(lookups))
		}
		vals[name] = v
	}
	return vals, refused
}

// present returns the claim, unless it is absent or null.
func present(claims map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	raw, ok := claims[name]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, false
	}
	return raw, true
}

// claimText converts one claim; see claimLookups.
func claimText(raw json.RawMessage) (string, string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", RefusedBadJSON
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", RefusedBadJSON
		}
		return s, ""
	case c == 't' || c == 'f':
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return "", RefusedBadJSON
		}
		if b {
			return "true", ""
		}
		return "false", ""
	case c == '-' || (c >= '0' && c <= '9'):
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", RefusedBadJSON
		}
		return strings.Clone(n.String()), ""
	}
	return "", RefusedNotScalar
}

// needUserinfo reports whether a lookup's claim is absent (or null) from
// the ID token's claims, so that userinfo must be asked.
func needUserinfo(lookups map[string]string, idToken map[string]json.RawMessage) bool {
	for _, claim := range lookups {
		if _, ok := present(idToken, claim); !ok {
			return true
		}
	}
	return false
}
