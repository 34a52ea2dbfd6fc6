package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// ResolveHeaderRef is the value of one placeholder of an upstream header
// template (HeaderTemplate.Render's resolve) for a caller: {lookup.NAME}
// from lookups (Snapshot.Lookups of the caller), {user.name}, {app.name}
// and {role.name} from id, {user.email} and {user.provider} from the
// caller's session (email and provider, "" without one). It reports false
// when the placeholder has no value: the request must then be refused. The
// proxy's upstreamHeaders stage and `gatehouse test` both render with it.
func ResolveHeaderRef(ref string, lookups map[string]any, id *Identity, email, provider string) (string, bool) {
	if name, ok := strings.CutPrefix(ref, "lookup."); ok {
		v, ok := lookups[name]
		if !ok {
			return "", false
		}
		return LookupString(v), true
	}
	var v string
	switch ref {
	case "user.name":
		v = id.User
	case "user.email":
		v = email
	case "user.provider":
		v = provider
	case "app.name":
		if id.App != nil {
			v = id.App.Name()
		}
	case "role.name":
		if id.Role != nil {
			v = id.Role.Name()
		}
	}
	return v, v != ""
}

// LookupString formats a lookup value for a header: strings as they are,
// numbers in their shortest form, booleans as true or false.
func LookupString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}
