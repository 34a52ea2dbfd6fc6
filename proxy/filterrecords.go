package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/filter"
	"github.com/gatehouse-dev/gatehouse/policy/records"
)

// Reasons of record filtering.
const (
	reasonFilterRefusedWrite = "filter_refused_write"
	reasonFilterBadBody      = "filter_bad_body"
	reasonFilterMediaType    = "filter_unsupported_media_type"
	reasonFilterUpstream     = "filter_unfilterable_response"
	reasonFilterHidden       = "filter_hidden_record"
	reasonFilterUpgrade      = "filter_upgrade_refused"
	// reasonFilterErrorBody: a non-2xx response whose body cannot be
	// filtered was replaced by the generic error of its status.
	reasonFilterErrorBody = "filter_unfilterable_error_body"
	// reasonFilterHeaderLines: a filtered write with more than one
	// Content-Type or Content-Encoding field line.
	reasonFilterHeaderLines = "filter_duplicate_header"
	// reasonFieldRefusedWrite: a write body sets a member the grant
	// hides or masks (hide_fields, mask_fields).
	reasonFieldRefusedWrite = "field_refused_write"
)

// firstChunk is how much filtered output is produced before the response
// starts: a response whose problem shows within it gets a clean 502; after
// it, the connection is cut instead (the client never gets unfiltered bytes).
// An output that fits in it is sent with its length (filterBody).
const firstChunk = 128 << 10

// recordFilter is the record filter of one transaction: the deciding
// grant's compiled filter (nil for a grant with field protection only) and
// records plan, which carries the field protection, set up by
// filterRecords, and
// what it did, for the access record. stats and err are written by the
// write check (filterRecords) or by the response's filterBody, which runs
// on the handler's goroutine before the access record is built.
type recordFilter struct {
	plan *records.Plan
	prog *filter.Program
	ev   filter.Evaluator
	// headAsGet: the request is a HEAD, sent upstream as GET (see
	// filterRecords).
	headAsGet bool

	stats records.Stats
	err   error // why filtering the response failed
}

func (f *recordFilter) pred(rec map[string]any) (bool, error) {
	if f.prog == nil { // fields only: every record is visible
		return true, nil
	}
	return f.ev.EvalRecord(f.prog, rec)
}

// filterRecords prepares record filtering when the deciding grant has a
// filter or field protection (hide_fields, mask_fields): it refuses what
// can never be filtered safely and checks write bodies (every record must
// pass and set no hidden or masked member, else 403 and nothing goes
// upstream).
type filterRecords struct{}

func (filterRecords) serve(x *transaction) error {
	g := x.decision.Grant
	if g == nil || g.Plan() == nil {
		return nil
	}
	plan := g.Plan() // policy.New gives every grant with a filter or fields one
	f := &recordFilter{plan: plan, prog: g.Program()}
	env := x.filterEnv()
	f.ev.Bind(&env)
	x.out.filter = f
	if x.srv.log.Enabled(x.r.Context(), slog.LevelDebug) {
		x.srv.log.Debug("record filter", "request_id", x.id, "grant", g.String(), "filter", g.Filter(), "records", g.Records(), "fields", g.Fields() != nil)
	}
	r := x.r
	// HEAD says what GET would say: it goes upstream as GET and its
	// response is filtered, so the status tells a hidden object from a
	// visible one exactly as GET's does; the server sends no body to HEAD.
	f.headAsGet = r.Method == http.MethodHead
	if upgradeType(r.Header) != "" {
		// A tunnel would carry records the filter never sees.
		return refuse(http.StatusForbidden, reasonFilterUpgrade, nil)
	}
	// No partial content of a filtered document, and no compressed
	// answers we would have to trust: ask for the whole thing as is.
	delete(r.Header, "Range")
	delete(r.Header, "If-Range")
	// The filtered body has no validators, so no conditional requests.
	delete(r.Header, "If-None-Match")
	delete(r.Header, "If-Modified-Since")
	r.Header["Accept-Encoding"] = []string{"identity"}

	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return nil
	}
	if name := repeatedBodyField(r.Header); name != "" {
		// Which one the upstream reads is anyone's guess.
		return refuse(http.StatusBadRequest, reasonFilterHeaderLines, fmt.Errorf("more than one %s field line", name))
	}
	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return refuse(http.StatusUnsupportedMediaType, reasonFilterMediaType, fmt.Errorf("request Content-Encoding %q", enc))
	}
	if !records.UTF8JSONMediaType(r.Header.Get("Content-Type")) {
		return refuse(http.StatusUnsupportedMediaType, reasonFilterMediaType, fmt.Errorf("request Content-Type %q", r.Header.Get("Content-Type")))
	}
	if g.Fields() != nil && records.PatchMediaType(r.Header.Get("Content-Type")) {
		// Its operations name the members they set in strings.
		return refuse(http.StatusUnsupportedMediaType, reasonFilterMediaType, errors.New("JSON Patch through a grant with hide_fields or mask_fields"))
	}
	body, err := x.readWholeBody()
	if err != nil {
		return err
	}
	ok, st, err := plan.CheckWrite(bytes.NewReader(body), f.pred)
	x.out.filter.stats = st
	if err != nil {
		return refuse(http.StatusBadRequest, reasonFilterBadBody, err)
	}
	if st.Protected > 0 {
		// The caller may not see the member, so it may not set it either.
		return refuse(http.StatusForbidden, reasonFieldRefusedWrite, nil)
	}
	if !ok {
		return refuse(http.StatusForbidden, reasonFilterRefusedWrite, nil)
	}
	x.setBody(body)
	return nil
}

// filterEnv describes the caller to filters.
func (x *transaction) filterEnv() filter.Env {
	env := filter.Env{
		Lookup:  x.lookups(),
		Request: filter.Request{Method: x.r.Method, Path: x.facts.route.Rest, Query: map[string]string{}},
	}
	if x.who.ident.App != nil {
		env.App = x.who.ident.App.Name()
	}
	if x.who.ident.Role != nil {
		env.Role = x.who.ident.Role.Name()
	}
	env.User.Name = x.who.ident.User
	if s := x.who.sess; s != nil {
		env.User.Email, env.User.Groups, env.User.Provider = s.Email, s.Groups, s.Provider
	}
	for k, v := range x.r.URL.Query() {
		if len(v) > 0 {
			env.Request.Query[k] = v[0]
		}
	}
	if env.Request.Path == "" {
		env.Request.Path = "/"
	}
	return env
}

// repeatedBodyField returns "Content-Type" or "Content-Encoding" when h
// has more than one field line of that name, counting every spelling that
// some server merges with it (policy.HeaderFold: any case, "_" for "-"),
// else "".
func repeatedBodyField(h http.Header) string {
	var ct, ce int
	for k, v := range h {
		switch {
		case policy.HeaderFold(k, "content-type"):
			ct += len(v)
		case policy.HeaderFold(k, "content-encoding"):
			ce += len(v)
		}
	}
	switch {
	case ct > 1:
		return "Content-Type"
	case ce > 1:
		return "Content-Encoding"
	}
	return ""
}

var _ stage = filterRecords{}
