package policy

import "strings"

// Verb is a set of HTTP methods, one bit per method a grant can name.
//
// Verbs are explicit: GET does not imply HEAD and no verb implies OPTIONS.
// CONNECT and TRACE cannot be granted at all; the proxy refuses CONNECT before
// any decision and TRACE is never matched by a grant.
type Verb uint8

// The grantable verbs.
const (
	VerbGET Verb = 1 << iota
	VerbHEAD
	VerbPOST
	VerbPUT
	VerbPATCH
	VerbDELETE
	VerbOPTIONS
)

var verbNames = [...]struct {
	name string
	verb Verb
}{
	{"GET", VerbGET}, {"HEAD", VerbHEAD}, {"POST", VerbPOST}, {"PUT", VerbPUT},
	{"PATCH", VerbPATCH}, {"DELETE", VerbDELETE}, {"OPTIONS", VerbOPTIONS},
}

// ParseVerb returns the verb for an HTTP method name. Names are matched
// exactly (upper case, as on the wire); ok is false for anything else.
func ParseVerb(method string) (v Verb, ok bool) {
	switch method {
	case "GET":
		return VerbGET, true
	case "HEAD":
		return VerbHEAD, true
	case "POST":
		return VerbPOST, true
	case "PUT":
		return VerbPUT, true
	case "PATCH":
		return VerbPATCH, true
	case "DELETE":
		return VerbDELETE, true
	case "OPTIONS":
		return VerbOPTIONS, true
	}
	return 0, false
}

// VerbNames lists the names ParseVerb accepts, for error messages.
func VerbNames() []string {
	out := make([]string, len(verbNames))
	for i, v := range verbNames {
		out[i] = v.name
	}
	return out
}

// String lists the verbs in the set, e.g. "GET,HEAD".
func (v Verb) String() string {
	var b strings.Builder
	for _, n := range verbNames {
		if v&n.verb != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(n.name)
		}
	}
	return b.String()
}
