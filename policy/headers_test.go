package policy

import "testing"

func TestHeaderFold(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"X-Request-Id", "X-Request-Id", true},
		{"x_request_id", "X-Request-Id", true},
		{"X-Request-Id", "X_REQUEST_ID", true},
		{"X_forwarded_for", "x-forwarded-for", true},
		{"X-Request-Id", "X-Request-Ids", false},
		{"X-Request-Id", "X-Request-Ix", false},
		{"X-Tenant", "X-Tenan_", false},
		{"", "", true},
	}
	for _, tt := range tests {
		if got := HeaderFold(tt.a, tt.b); got != tt.want {
			t.Errorf("HeaderFold(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := HeaderFold(tt.b, tt.a); got != tt.want {
			t.Errorf("HeaderFold(%q, %q) = %v, want %v (not symmetric)", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestIsIdentityOrCredentialHeader(t *testing.T) {
	for k, want := range map[string]bool{
		"X-Gatehouse-User":         true,
		"x_gatehouse_role":         true,
		"X-GATEHOUSE-":             true,
		"X-Gatehouse-Anything-New": true,
		"X-Api-Key":                true,
		"X_API_KEY":                true,
		"X-Api-Keys":               false,
		"X-Gatehouse":              false,
		"X-Request-Id":             false,
		"Authorization":            false,
	} {
		if got := IsIdentityOrCredentialHeader(k); got != want {
			t.Errorf("IsIdentityOrCredentialHeader(%q) = %v, want %v", k, got, want)
		}
	}
}
