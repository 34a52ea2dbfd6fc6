package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/metrics"
	"github.com/gatehouse-dev/gatehouse/policy/records"
)

// accessLog writes one JSON line per request, in the same shape as
// slog.JSONHandler ("time", "level", "msg", then the fields), with a
// purpose-built encoder: on the request path slog's generic attribute
// handling cost about 8% of gatehouse's CPU under load (see
// docs/benchmarks.md). Keys: request_id, method, path, status, app, key,
// user, role, upstream, decision, reason, grant, near_grant and near_reason
// (a refusal by the grants: the grant that came closest and why it did not
// allow), dry_run and dry_run_grant (what a dry-run grant would have
// changed: would_allow, would_deny), duration_ms, client, and error for
// failures. Credentials are never among them: key is the API
// key's name (its label, or the first 8 hex digits of its SHA-256).
//
// With Options.AccessLogText the same records, with the same keys in the
// same order, go through slog.TextHandler instead (key=value lines for a
// human at a terminal); the fast encoder stays the JSON path.
type accessLog struct {
	w    io.Writer
	mu   sync.Mutex // serializes writes, so that lines never interleave
	bufs sync.Pool
	text slog.Handler // nil: JSON lines by the encoder below
}

func newAccessLog(w io.Writer, text bool) *accessLog {
	l := &accessLog{w: w}
	if text {
		// Every record is written, whatever the log level, as on the
		// JSON path.
		l.text = slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})
	}
	return l
}

// accessRecord is one request's line of the access log, and what metrics
// count requests by: its fields are plain values with bounded sets (names
// from the configuration, reasons from fixed lists), but for the request's
// own (request_id, path, user, client, error).
type accessRecord struct {
	level                     slog.Level
	requestID, method, path   string
	status                    int
	app, user, role, upstream string
	// key names the API key the request came with (policy.Key.Name: the
	// label or the hash's first 8 hex digits), also when that key was
	// refused (expired, inactive app), so that an operator rotating keys
	// sees when the old one stops being used; "" without a key.
	key                     string
	decision, reason, grant string
	// nearGrant and nearReason: on a refusal by the grants, the grant that
	// came closest (policy.Decision.NearMiss: its file:line) and why it
	// did not allow (verb_not_granted, overridden_by_deny).
	nearGrant, nearReason string
	// dryRun and dryRunGrant: what a dry-run grant would have changed
	// (policy.Decision.DryRun: would_allow, would_deny) and its file:line.
	dryRun, dryRunGrant string
	client              netip.Addr
	errText             string
	start, end          time.Time
	filtered            bool // a record filter ran: records/removed follow
	records, removed    int
	abandoned           bool // the client went away first (abandoned.go)
}

// logAccess records x in the metrics and writes its access record,
// unless it is one abandoned request too many (abandoned.go).
func (s *Server) logAccess(x *transaction) {
	rec := x.accessRecord(time.Now()) // one clock read for timestamp and duration
	if s.metrics != nil {
		q := rec.metrics(x)
		s.metrics.Request(&q)
	}
	if rec.abandoned && !s.abandons.allow(rec.end) {
		return
	}
	s.access.write(&rec)
}

// metrics returns what the metrics record about the request: fields of
// its access record (never the path, the user or the client) and the
// upstream's latency. Abandoned requests are counted too, also when their
// access line is suppressed.
func (rec *accessRecord) metrics(x *transaction) metrics.Request {
	q := metrics.Request{
		Upstream: rec.upstream, App: rec.app, Key: rec.key, DryRun: rec.dryRun, Deny: rec.decision == "deny", Status: rec.status, Reason: rec.reason,
		Duration: rec.end.Sub(rec.start), UpstreamSent: x.fwd.tr.sent, UpstreamLatency: x.fwd.tr.latency,
		Filtered: rec.filtered, Records: rec.records, Removed: rec.removed,
	}
	if !q.Deny {
		q.Reason = ""
	}
	switch rec.reason {
	case reasonUpstreamTimeout:
		q.UpstreamError = metrics.UpstreamTimeout
	case reasonUpstreamDown:
		q.UpstreamError = metrics.UpstreamUnavailable
	case reasonUpstreamInformational:
		q.UpstreamError = metrics.UpstreamProtocol
	}
	return q
}

// accessRecord builds the access record of x from the stages' hand-offs:
// the request facts, the caller, the decision, the record filter's
// outcome and the answer. It is the one place that knows the record's
// fields.
func (x *transaction) accessRecord(end time.Time) accessRecord {
	rec := accessRecord{
		level:     slog.LevelInfo,
		requestID: x.id,
		method:    x.r.Method,
		path:      x.facts.path.Escaped,
		status:    x.res.status,
		user:      x.who.ident.User,
		decision:  "allow",
		reason:    string(x.decision.Reason),
		errText:   x.res.errText,
		start:     x.start,
		end:       end,
		client:    x.facts.client,
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status >= 500 && rec.status != statusClientClosed {
		rec.level = slog.LevelError
	}
	if x.res.reason != "" {
		rec.decision, rec.reason = "deny", x.res.reason
	}
	if x.who.ident.App != nil {
		rec.app = x.who.ident.App.Name()
	}
	if k := x.who.ident.Key; k != nil {
		rec.key = k.Name()
		if rec.app == "" { // a refused key: its app is named too
			rec.app = k.App().Name()
		}
	}
	if x.who.ident.Role != nil {
		rec.role = x.who.ident.Role.Name()
	}
	if x.facts.routed {
		rec.upstream = x.facts.route.Upstream.Name()
	}
	if x.decision.Grant != nil {
		rec.grant = x.decision.Grant.Origin()
	}
	if g := x.decision.NearMiss; g != nil && rec.decision == "deny" {
		rec.nearGrant, rec.nearReason = g.Origin(), string(x.decision.NearReason)
	}
	if g := x.decision.DryRunGrant; g != nil {
		rec.dryRun, rec.dryRunGrant = string(x.decision.DryRun), g.Origin()
	}
	if f := x.out.filter; f != nil {
		rec.filtered, rec.records, rec.removed = true, f.stats.Records, f.stats.Removed
		if err := f.err; err != nil && !errors.Is(err, records.ErrRefused) && rec.errText == "" {
			// Failed after the response started: the connection was cut.
			// Say why: the client hung up (499, not an error), reading
			// the upstream failed, or its bytes could not be filtered.
			e := x.filterFailure(func(reason string, err error) *Error {
				return &Error{Status: rec.status, Reason: reason, Err: err}
			}, err)
			rec.reason, rec.decision, rec.errText, rec.level = e.Reason, "deny", err.Error(), slog.LevelError
			if e.Status == statusClientClosed {
				rec.status, rec.level = statusClientClosed, slog.LevelInfo
			}
		}
	}
	if rec.path == "" {
		rec.path = truncate(x.r.RequestURI, 256)
	}
	// Abandoned: the HTTP/2 stream was reset (or the connection closed)
	// before the response went out, and nothing reached an upstream.
	rec.abandoned = !x.fwd.tr.sent && x.r.ProtoMajor == 2 && x.r.Context().Err() != nil
	return rec
}

func (l *accessLog) write(r *accessRecord) {
	if l.text != nil {
		l.writeText(r)
		return
	}
	bp, _ := l.bufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, 512)
		bp = &b
	}
	b := (*bp)[:0]
	b = append(b, `{"time":"`...)
	b = r.end.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"`...)
	b = append(b, r.level.String()...)
	b = append(b, `","msg":"request"`...)
	b = appendField(b, "request_id", r.requestID)
	b = appendField(b, "method", r.method)
	b = appendField(b, "path", r.path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.status), 10)
	b = appendField(b, "app", r.app)
	b = appendField(b, "key", r.key)
	b = appendField(b, "user", r.user)
	b = appendField(b, "role", r.role)
	b = appendField(b, "upstream", r.upstream)
	b = appendField(b, "decision", r.decision)
	b = appendField(b, "reason", r.reason)
	if r.grant != "" {
		b = appendField(b, "grant", r.grant)
	}
	if r.nearGrant != "" {
		b = appendField(b, "near_grant", r.nearGrant)
		b = appendField(b, "near_reason", r.nearReason)
	}
	if r.dryRun != "" {
		b = appendField(b, "dry_run", r.dryRun)
		b = appendField(b, "dry_run_grant", r.dryRunGrant)
	}
	if r.filtered {
		b = append(b, `,"records":`...)
		b = strconv.AppendInt(b, int64(r.records), 10)
		b = append(b, `,"records_removed":`...)
		b = strconv.AppendInt(b, int64(r.removed), 10)
	}
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(r.end.Sub(r.start).Microseconds())/1000, 'f', -1, 64)
	switch {
	case r.client.Zone() != "":
		// A zone comes from X-Forwarded-For text: escape it like any string.
		b = appendField(b, "client", r.client.String())
	case r.client.IsValid():
		b = append(b, `,"client":"`...)
		b = r.client.AppendTo(b) // digits, dots and colons only
		b = append(b, '"')
	default:
		b = append(b, `,"client":""`...)
	}
	if r.errText != "" {
		b = appendField(b, "error", r.errText)
	}
	if r.abandoned {
		b = append(b, `,"abandoned":true`...)
	}
	b = append(b, "}\n"...)
	l.mu.Lock()
	_, _ = l.w.Write(b)
	l.mu.Unlock()
	*bp = b
	l.bufs.Put(bp)
}

// writeText writes r through the text handler, with write's keys in
// write's order.
func (l *accessLog) writeText(r *accessRecord) {
	rec := slog.NewRecord(r.end, r.level, "request", 0)
	rec.AddAttrs(
		slog.String("request_id", r.requestID),
		slog.String("method", r.method),
		slog.String("path", r.path),
		slog.Int("status", r.status),
		slog.String("app", r.app),
		slog.String("key", r.key),
		slog.String("user", r.user),
		slog.String("role", r.role),
		slog.String("upstream", r.upstream),
		slog.String("decision", r.decision),
		slog.String("reason", r.reason),
	)
	if r.grant != "" {
		rec.AddAttrs(slog.String("grant", r.grant))
	}
	if r.nearGrant != "" {
		rec.AddAttrs(slog.String("near_grant", r.nearGrant), slog.String("near_reason", r.nearReason))
	}
	if r.dryRun != "" {
		rec.AddAttrs(slog.String("dry_run", r.dryRun), slog.String("dry_run_grant", r.dryRunGrant))
	}
	if r.filtered {
		rec.AddAttrs(slog.Int("records", r.records), slog.Int("records_removed", r.removed))
	}
	client := ""
	if r.client.IsValid() {
		client = r.client.String()
	}
	rec.AddAttrs(
		slog.Float64("duration_ms", float64(r.end.Sub(r.start).Microseconds())/1000),
		slog.String("client", client),
	)
	if r.errText != "" {
		rec.AddAttrs(slog.String("error", r.errText))
	}
	if r.abandoned {
		rec.AddAttrs(slog.Bool("abandoned", true))
	}
	l.mu.Lock()
	_ = l.text.Handle(context.Background(), rec)
	l.mu.Unlock()
}

func appendField(b []byte, key, val string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendJSONString(b, val)
}

const hexDigits = "0123456789abcdef"

// jsonSafe holds the bytes appendJSONString copies as they are: printable
// ASCII but for '"', '\\', '<', '>' and '&'. One table load per byte instead
// of seven comparisons: the access log's strings (ids, paths, names) are
// nearly all safe, and the per-byte loop was the line's largest cost.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendJSONString appends s as a JSON string, escaping as encoding/json
// does (including <, >, & and U+2028/2029) and replacing invalid UTF-8.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonSafe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
