package proxy

import (
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"
)

func BenchmarkAccessLog(b *testing.B) {
	l := newAccessLog(io.Discard, false)
	now := time.Now()
	rec := accessRecord{
		level: slog.LevelInfo, requestID: "0123456789ab-1z", method: "GET", path: "/api/employees/42",
		status: 200, app: "portal", key: "2026-12", role: "reader", upstream: "api", decision: "allow",
		reason: "grant_allowed", grant: "roles.hcl:12,3", client: netip.MustParseAddr("127.0.0.1"), start: now, end: now.Add(time.Millisecond),
	}
	b.ReportAllocs()
	for b.Loop() {
		l.write(&rec)
	}
}

// BenchmarkAccessLogNearMiss writes a refusal with its near miss
// (near_grant, near_reason): still no allocation.
func BenchmarkAccessLogNearMiss(b *testing.B) {
	l := newAccessLog(io.Discard, false)
	now := time.Now()
	rec := accessRecord{
		level: slog.LevelInfo, requestID: "0123456789ab-1z", method: "PUT", path: "/api/employees/42",
		status: 403, app: "portal", key: "2026-12", role: "reader", upstream: "api", decision: "deny",
		reason: "no_matching_grant", nearGrant: "roles.hcl:12,3", nearReason: "verb_not_granted",
		client: netip.MustParseAddr("127.0.0.1"), start: now, end: now.Add(time.Millisecond),
	}
	b.ReportAllocs()
	for b.Loop() {
		l.write(&rec)
	}
}
