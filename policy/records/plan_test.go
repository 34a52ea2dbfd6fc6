package records

import (
	"slices"
	"testing"
)

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		path string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{"data", []string{"data"}, true},
		{"result.items", []string{"result", "items"}, true},
		{"data..x", nil, false},
		{".data", nil, false},
		{"data.", nil, false},
	} {
		got, err := ParsePath(tc.path)
		if (err == nil) != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("ParsePath(%q) = %q, %v", tc.path, got, err)
		}
	}
}

func TestPlanFor(t *testing.T) {
	p, err := NewPlan("result.items", []string{"level", "department", "level"}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	all, err := NewPlan("", nil, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p      *Plan
		path   string
		fields []string
		want   bool
	}{
		{p, "result.items", []string{"department", "level"}, true},
		{p, "result.items", []string{"level", "department"}, true},
		{p, "result", []string{"department", "level"}, false},
		{p, "result.items", []string{"level"}, false},
		{p, "result.items", []string{"department", "level", "id"}, false},
		{p, "result.items", nil, false},
		{all, "", nil, true},
		{all, "", []string{}, false},
		{all, "data", nil, false},
	} {
		if got := tc.p.For(tc.path, tc.fields); got != tc.want {
			t.Errorf("For(%q, %q) = %v, want %v", tc.path, tc.fields, got, tc.want)
		}
	}
}
