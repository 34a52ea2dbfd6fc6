package records

import (
	"mime"
	"strings"
)

// JSONMediaType reports whether a Content-Type names JSON:
// application/json or an application/*+json type. Only such bodies are
// filtered.
func JSONMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// UTF8JSONMediaType is JSONMediaType for request bodies, which are checked
// as UTF-8: a charset parameter other than utf-8 would have the upstream
// decode other text than the filter judged.
func UTF8JSONMediaType(ct string) bool {
	if !JSONMediaType(ct) {
		return false
	}
	_, params, _ := mime.ParseMediaType(ct)
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}
