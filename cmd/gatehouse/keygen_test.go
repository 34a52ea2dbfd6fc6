package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// keygen's api_key block: its label and not_after flags, checked before
// anything is printed; --json carries them only when given.
func TestKeygen_APIKeyBlock(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout []string // substrings
		stderr string
	}{
		{"default label: this month", nil, 0, []string{`  api_key "` + time.Now().UTC().Format("2006-01") + `" {` + "\n    sha256 = \""}, ""},
		{"label and not_after", []string{"--label", "2027-01", "--not-after", "2027-03-31T23:59:59Z"}, 0,
			[]string{`  api_key "2027-01" {` + "\n    sha256    = \"", "\n    not_after = \"2027-03-31T23:59:59Z\"\n  }\n"}, ""},
		{"json with label", []string{"--json", "--label", "ci"}, 0, []string{`"label":"ci"`}, ""},
		{"bad label", []string{"--label", "two words"}, 2, nil, "--label"},
		{"bad not_after", []string{"--not-after", "2027-03-31"}, 2, nil, "RFC 3339"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := dispatch(append([]string{"keygen"}, tc.args...), &stdout, &stderr)
			if code != tc.code || !strings.Contains(stderr.String(), tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tc.code, tc.stderr)
			}
			if tc.code != 0 && stdout.Len() > 0 {
				t.Errorf("refused, but printed %q", stdout.String())
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, stdout.String())
				}
			}
		})
	}
	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"keygen", "--json", "--label", "ci", "--not-after", "2027-01-31T00:00:00Z"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d %s", code, stderr.String())
	}
	var got map[string]string
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil || len(got) != 4 || got["label"] != "ci" || got["not_after"] != "2027-01-31T00:00:00Z" {
		t.Errorf("--json with --label and --not-after: %v %v", got, err)
	}
}
