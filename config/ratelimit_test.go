package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// rateLimitConfig is a config with a rate_limit slot in an app, a role, an
// allow grant and a user; each %s takes a block or "".
const rateLimitConfig = `upstream "api" {
  url    = "http://127.0.0.1:9000"
  prefix = "/"
}

sessions {
  signing_key = "0123456789abcdef0123456789abcdef"
}

app "shop" {
  api_key_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
  default_role   = "clerk"
  APP
}

role "clerk" {
  ROLE
  allow "api" {
    paths = ["/**"]
    verbs = ["GET"]
    GRANT
  }
  deny "api" {
    paths = ["/admin/**"]
    verbs = ["GET"]
    DENY
  }
}

user "alice" {
  roles = { shop = "clerk" }
  USER
}
`

func loadRateLimits(t *testing.T, slots map[string]string) (*policy.Snapshot, map[string]*hcl.File, hcl.Diagnostics) {
	t.Helper()
	src := rateLimitConfig
	for _, k := range []string{"APP", "ROLE", "GRANT", "DENY", "USER"} {
		src = strings.Replace(src, k, slots[k], 1)
	}
	path := filepath.Join(t.TempDir(), "gatehouse.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	snap, _, files, diags := LoadSnapshot(path)
	return snap, files, diags
}

func TestRateLimit_Valid(t *testing.T) {
	snap, _, diags := loadRateLimits(t, map[string]string{
		"APP":   "rate_limit {\n    requests = 100\n    period   = \"1m\"\n    burst    = 20\n  }",
		"ROLE":  "rate_limit {\n    requests = 10\n    period   = \"1s\"\n  }",
		"GRANT": "rate_limit {\n    requests = 5\n    period   = \"1h\"\n  }",
		"USER":  "rate_limit {\n    requests = 7\n    period   = \"10s\"\n    burst    = 1\n  }",
	})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	app, _ := snap.App("shop")
	role, _ := snap.Role("clerk")
	user, _ := snap.User("alice")
	for _, tc := range []struct {
		l               *policy.RateLimit
		id              string
		requests, burst int
		period, every   time.Duration
		policy          string
	}{
		{app.RateLimit(), "app:shop", 100, 20, time.Minute, 600 * time.Millisecond, `"app";q=100;w=60`},
		{role.RateLimit(), "role:clerk", 10, 10, time.Second, 100 * time.Millisecond, `"role";q=10;w=1`},
		{user.RateLimit(), "user:alice", 7, 1, 10 * time.Second, 10 * time.Second / 7, `"user";q=7;w=10`},
	} {
		if tc.l == nil {
			t.Errorf("%s: no limit", tc.id)
			continue
		}
		if tc.l.ID() != tc.id || tc.l.Requests() != tc.requests || tc.l.Burst() != tc.burst || tc.l.Period() != tc.period || tc.l.Every() != tc.every || tc.l.Policy() != tc.policy {
			t.Errorf("%s: got %s %d/%s burst %d every %s %s", tc.id, tc.l.ID(), tc.l.Requests(), tc.l.Period(), tc.l.Burst(), tc.l.Every(), tc.l.Policy())
		}
	}
	if !snap.HasRateLimits() {
		t.Error("HasRateLimits false")
	}
	none, _, diags := loadRateLimits(t, nil)
	if diags.HasErrors() || none.HasRateLimits() {
		t.Errorf("without rate_limit blocks: %v, HasRateLimits %v", diags, none.HasRateLimits())
	}
}

// Every mistake in a rate_limit is reported at the narrowest range.
func TestRateLimit_Errors(t *testing.T) {
	for _, tc := range []struct {
		name, slot, block string
		summary, at       string
		detailMentions    string
	}{
		{"zero requests", "APP", "rate_limit {\n requests = 0\n period = \"1m\"\n }", summaryInvalidRateLimit, "0", "from 1 to"},
		{"negative requests", "ROLE", "rate_limit {\n requests = -5\n period = \"1m\"\n }", summaryInvalidRateLimit, "-5", "from 1 to"},
		{"fractional requests", "USER", "rate_limit {\n requests = 2.5\n period = \"1m\"\n }", summaryInvalidRateLimit, "2.5", "whole number"},
		{"zero burst", "GRANT", "rate_limit {\n requests = 10\n period = \"1m\"\n burst = 0\n }", summaryInvalidRateLimit, "0", "at least 1"},
		{"bad duration", "APP", "rate_limit {\n requests = 10\n period = \"1 minute\"\n }", summaryInvalidDuration, `"1 minute"`, "not a duration"},
		{"negative period", "APP", "rate_limit {\n requests = 10\n period = \"-1m\"\n }", summaryInvalidDuration, `"-1m"`, "negative"},
		{"sub-second period", "APP", "rate_limit {\n requests = 10\n period = \"500ms\"\n }", summaryInvalidRateLimit, `"500ms"`, "whole number of seconds"},
		{"fractional seconds", "ROLE", "rate_limit {\n requests = 10\n period = \"1.5s\"\n }", summaryInvalidRateLimit, `"1.5s"`, "whole number of seconds"},
		{"period too long", "ROLE", "rate_limit {\n requests = 10\n period = \"48h\"\n }", summaryInvalidRateLimit, `"48h"`, "24h"},
		{"missing period", "APP", "rate_limit {\n requests = 10\n }", "Missing required argument", "", "period"}, // HCL points at the end of the body,
		{"unknown attribute", "APP", "rate_limit {\n requests = 10\n period = \"1m\"\n per = \"user\"\n }", "Unsupported argument", "per", "per"},
		{"two blocks", "APP", "rate_limit {\n requests = 10\n period = \"1m\"\n }\n rate_limit {\n requests = 20\n period = \"1m\"\n }", summaryDuplicateRateLimit, "rate_limit", "at most one"},
		{"on a deny grant", "DENY", "rate_limit {\n requests = 10\n period = \"1m\"\n }", summaryRateLimitOnDeny, "rate_limit", "allow block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, files, diags := loadRateLimits(t, map[string]string{tc.slot: tc.block})
			d := findDiag(t, diags, tc.summary)
			if got := subjectText(t, files, d); got != tc.at {
				t.Errorf("Subject covers %q, want %q", got, tc.at)
			}
			if !strings.Contains(d.Detail, tc.detailMentions) {
				t.Errorf("Detail %q does not mention %q", d.Detail, tc.detailMentions)
			}
		})
	}
}
