package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// An app's keys: api_key_sha256 and api_key blocks together, labels,
// not_after with its offset, hashes in either case.
func TestLoad_APIKeys(t *testing.T) {
	snap, _, _, diags := LoadSnapshot("testdata/valid/api_keys.hcl")
	if diags.HasErrors() || snap == nil {
		t.Fatalf("got errors: %s", diags.Error())
	}
	legacy := sha256.Sum256([]byte("legacy-key"))
	notAfter := time.Date(2099, 1, 31, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		key, app, name, label string
		notAfter              time.Time
		origin                string
	}{
		{"legacy-key", "portal", hex.EncodeToString(legacy[:4]), "", time.Time{}, "api_keys.hcl:15,1"},
		{"key-2026-12", "portal", "2026-12", "2026-12", time.Time{}, "api_keys.hcl:19,3"},
		{"key-2025-12", "portal", "2025-12", "2025-12", notAfter, "api_keys.hcl:23,3"},
		{"batch-key", "batch", "only", "only", time.Time{}, "api_keys.hcl:30,3"},
	} {
		k, ok := snap.APIKey(tc.key)
		if !ok {
			t.Errorf("key %q: not found", tc.key)
			continue
		}
		if k.App().Name() != tc.app || k.Name() != tc.name || k.Label() != tc.label || !k.NotAfter().Equal(tc.notAfter) || k.Origin() != tc.origin {
			t.Errorf("key %q: app %q, name %q, label %q, not_after %v, origin %s; want %q, %q, %q, %v, %s",
				tc.key, k.App().Name(), k.Name(), k.Label(), k.NotAfter(), k.Origin(), tc.app, tc.name, tc.label, tc.notAfter, tc.origin)
		}
	}
	if _, ok := snap.APIKey("unknown"); ok {
		t.Error("an unknown key was found")
	}
}

// A key that has expired or expires within 7 days is a warning at load,
// at its not_after; others are not mentioned.
func TestLoad_APIKeyExpiryWarnings(t *testing.T) {
	now := time.Now().UTC()
	block := func(label, seed string, notAfter time.Time) string {
		return fmt.Sprintf("  api_key %q {\n    sha256    = %q\n    not_after = %q\n  }\n",
			label, fmt.Sprintf("%x", sha256.Sum256([]byte(seed))), notAfter.Format(time.RFC3339))
	}
	src := "upstream \"hr\" {\n  url    = \"http://127.0.0.1:9001\"\n  prefix = \"/hr\"\n}\n\napp \"portal\" {\n" +
		block("expired", "a", now.Add(-time.Hour)) + // line 7, not_after on line 9
		block("soon", "b", now.Add(3*24*time.Hour)) + // line 11, 13
		block("later", "c", now.Add(30*24*time.Hour)) + // line 15, 17
		"}\n"
	path := filepath.Join(t.TempDir(), "keys.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	snap, _, _, diags := LoadSnapshot(path)
	if diags.HasErrors() || snap == nil {
		t.Fatalf("got errors: %s", diags.Error())
	}
	var got []string
	for _, d := range diags {
		got = append(got, fmt.Sprintf("%d: %s", d.Subject.Start.Line, d.Summary))
		if !strings.Contains(d.Detail, `"expired"`) && !strings.Contains(d.Detail, `"soon"`) {
			t.Errorf("detail does not name the key: %s", d.Detail)
		}
	}
	if want := []string{"9: " + summaryKeyExpired, "13: " + summaryKeyExpiring}; !slices.Equal(got, want) {
		t.Errorf("warnings %q; want %q", got, want)
	}
}

// The SHA-256 of the empty string is refused as a key's or the admin
// token's hash (a hashed variable that was unset), at its value.
func TestLoad_EmptySecretHashRefused(t *testing.T) {
	empty := fmt.Sprintf("%x", sha256.Sum256(nil))
	for _, src := range []string{
		"upstream \"hr\" {\n  url    = \"http://127.0.0.1:9001\"\n  prefix = \"/hr\"\n}\napp \"portal\" {\n  api_key_sha256 = \"" + empty + "\"\n}\n",
		"upstream \"hr\" {\n  url    = \"http://127.0.0.1:9001\"\n  prefix = \"/hr\"\n}\napp \"portal\" {\n  api_key \"a\" {\n    sha256 = \"" + strings.ToUpper(empty) + "\"\n  }\n}\n",
		"server {\n  admin_token_sha256 = \"" + empty + "\"\n}\nupstream \"hr\" {\n  url    = \"http://127.0.0.1:9001\"\n  prefix = \"/hr\"\n}\n",
	} {
		path := filepath.Join(t.TempDir(), "gatehouse.hcl")
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, _, diags := LoadSnapshot(path)
		var found bool
		for _, d := range diags {
			if strings.Contains(d.Detail, "SHA-256 of the empty string") && d.Subject != nil {
				found = true
				if strings.Contains(d.Detail, empty) || strings.Contains(d.Detail, strings.ToUpper(empty)) {
					t.Errorf("the diagnostic echoes the value: %s", d.Detail)
				}
			}
		}
		if !found || !diags.HasErrors() {
			t.Errorf("config with the empty string's hash: %s; want an error naming it", diags.Error())
		}
	}
}
