package oauth

import (
	"encoding/json"
	"maps"
	"testing"
)

// claimLookups: which claim gives which text; the table is the rule.
func TestClaimLookups(t *testing.T) {
	claims := func(s string) map[string]json.RawMessage {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tc := range []struct {
		name              string
		lookups           map[string]string
		idToken, userinfo string
		vals, refused     map[string]string
		needUserinfo      bool
	}{
		{name: "string", lookups: map[string]string{"tenant": "org_id"}, idToken: `{"org_id":"acme"}`,
			vals: map[string]string{"tenant": "acme"}},
		{name: "escaped string", lookups: map[string]string{"tenant": "org_id"}, idToken: `{"org_id":"a\u0063me \u00fc"}`,
			vals: map[string]string{"tenant": "acme ü"}},
		{name: "empty string is a value", lookups: map[string]string{"tenant": "org_id"}, idToken: `{"org_id":""}`,
			vals: map[string]string{"tenant": ""}},
		{name: "integer as its JSON text", lookups: map[string]string{"tenant": "org_id"}, idToken: `{"org_id":4711}`,
			vals: map[string]string{"tenant": "4711"}},
		{name: "number as written", lookups: map[string]string{"level": "lvl"}, idToken: `{"lvl":1.50}`,
			vals: map[string]string{"level": "1.50"}},
		{name: "negative exponent", lookups: map[string]string{"level": "lvl"}, idToken: `{"lvl":-2e3}`,
			vals: map[string]string{"level": "-2e3"}},
		{name: "booleans", lookups: map[string]string{"a": "x", "b": "y"}, idToken: `{"x":true,"y":false}`,
			vals: map[string]string{"a": "true", "b": "false"}},
		{name: "array refused", lookups: map[string]string{"department": "groups"}, idToken: `{"groups":["sales"]}`,
			refused: map[string]string{"department": RefusedNotScalar}},
		{name: "object refused, userinfo not consulted", lookups: map[string]string{"department": "org"}, idToken: `{"org":{"id":"x"}}`, userinfo: `{"org":"sales"}`,
			refused: map[string]string{"department": RefusedNotScalar}},
		{name: "userinfo when the ID token lacks it", lookups: map[string]string{"department": "dept"}, idToken: `{"sub":"x"}`, userinfo: `{"dept":"ops"}`,
			vals: map[string]string{"department": "ops"}, needUserinfo: true},
		{name: "null in the ID token: userinfo", lookups: map[string]string{"department": "dept"}, idToken: `{"dept":null}`, userinfo: `{"dept":"ops"}`,
			vals: map[string]string{"department": "ops"}, needUserinfo: true},
		{name: "ID token wins over userinfo", lookups: map[string]string{"department": "dept"}, idToken: `{"dept":"sales"}`, userinfo: `{"dept":"ops"}`,
			vals: map[string]string{"department": "sales"}},
		{name: "absent from both", lookups: map[string]string{"department": "dept"}, idToken: `{}`, userinfo: `{"dept":null}`, needUserinfo: true},
		{name: "a dotted name is a member name, not a path", lookups: map[string]string{"tenant": "org.id"}, idToken: `{"org":{"id":"x"},"org.id":"y"}`,
			vals: map[string]string{"tenant": "y"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := claims(tc.idToken)
			var ui map[string]json.RawMessage
			if tc.userinfo != "" {
				ui = claims(tc.userinfo)
			}
			if got := needUserinfo(tc.lookups, id); got != tc.needUserinfo {
				t.Errorf("needUserinfo = %v", got)
			}
			vals, refused := claimLookups(tc.lookups, id, ui)
			if !maps.Equal(vals, tc.vals) || !maps.Equal(refused, tc.refused) {
				t.Errorf("got %q refused %q, want %q refused %q", vals, refused, tc.vals, tc.refused)
			}
		})
	}
}
