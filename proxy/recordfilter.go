package proxy

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/filter"
	"github.com/gatehouse-dev/gatehouse/policy/records"
)

// Reasons of record recordFilter.
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
)

// firstChunk is how much filtered output is produced before the response
// starts: a response whose problem shows within it gets a clean 502; after
// it, the connection is cut instead (the client never gets unfiltered bytes).
const firstChunk = 32 << 10

// recordFilter is the record filter of one transaction.
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
	return f.ev.EvalRecord(f.prog, rec)
}

// filterRecords prepares record recordFilter when the deciding grant has a
// filter: it refuses what can never be filtered safely and checks write
// bodies (every record must pass, else 403 and nothing goes upstream).
type filterRecords struct{}

func (filterRecords) serve(x *transaction) error {
	g := x.decision.Grant
	if g == nil || g.Program() == nil {
		return nil
	}
	plan := g.Plan() // policy.New gives every filtered grant one
	f := &recordFilter{plan: plan, prog: g.Program()}
	env := x.filterEnv()
	f.ev.Bind(&env)
	x.out.filter = f
	if x.srv.log.Enabled(x.r.Context(), slog.LevelDebug) {
		x.srv.log.Debug("record filter", "request_id", x.id, "grant", g.String(), "filter", g.Filter(), "records", g.Records())
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
	if !isUTF8JSON(r.Header.Get("Content-Type")) {
		return refuse(http.StatusUnsupportedMediaType, reasonFilterMediaType, fmt.Errorf("request Content-Type %q", r.Header.Get("Content-Type")))
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

// isUTF8JSON is isJSON for request bodies, which are checked as UTF-8: a
// charset parameter other than utf-8 would have the upstream decode other
// text than the filter judged.
func isUTF8JSON(ct string) bool {
	if !isJSON(ct) {
		return false
	}
	_, params, _ := mime.ParseMediaType(ct)
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// filterResponse replaces the body of a response on a filtered route with
// its filtered stream, whatever the status: an upstream's 404 or 500 may
// echo records too. What cannot be filtered fails closed: a 2xx with a 502
// (reasonFilterUpstream), any other status with the generic error of that
// same status (reasonFilterErrorBody). A single object the caller may not
// see is 404 for a 2xx, the generic error of its status otherwise
// (reasonFilterHidden). A redirect keeps its headers (Location) and loses
// its body. Bodiless answers (204, 304, an empty body) pass as they are.
func (x *transaction) filterResponse(res *http.Response) error {
	f := x.out.filter
	code := res.StatusCode
	ok := code >= 200 && code <= 299
	h := res.Header
	empty := res.Body == http.NoBody || res.ContentLength == 0
	// Sizes and validators of the unfiltered document must not reach the
	// client; the filtered body is streamed (chunked).
	delete(h, "Content-Length")
	delete(h, "Etag")
	delete(h, "Content-Md5")
	delete(h, "Digest")
	delete(h, "Accept-Ranges")
	delete(h, "Last-Modified")
	// The body is this caller's view: no shared cache may keep it.
	h["Cache-Control"] = []string{"private, no-store"}
	res.ContentLength = -1
	// fail is the answer when the body cannot be filtered.
	fail := func(reason string, err error) *Error {
		if !ok {
			// The status is the upstream's answer; only the body goes.
			return sameStatus(res, reasonFilterErrorBody, err)
		}
		return &Error{Status: http.StatusBadGateway, Reason: reason, Err: err}
	}
	switch {
	case code < 200: // 101 to a request that asked for no upgrade
		return &Error{Status: http.StatusBadGateway, Reason: reasonFilterUpstream, Err: fmt.Errorf("status %d on a filtered route", code)}
	case code == http.StatusNoContent || code == http.StatusNotModified || empty:
		return nil // no body, no record
	case code >= 300 && code <= 399:
		// A redirect's body is for people; it may echo records. Location
		// and the other headers stay.
		_ = res.Body.Close()
		res.Body = http.NoBody
		delete(h, "Content-Type")
		delete(h, "Content-Encoding")
		h["Content-Length"] = []string{"0"}
		return nil
	case code == http.StatusPartialContent:
		return fail(reasonFilterUpstream, errors.New("partial content on a filtered route"))
	}
	if !isJSON(h.Get("Content-Type")) {
		return fail(reasonFilterUpstream, fmt.Errorf("Content-Type %q is not JSON", h.Get("Content-Type")))
	}
	var src io.Reader = upstreamRead{res.Body}
	switch enc := strings.ToLower(strings.TrimSpace(h.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return x.filterFailure(fail, err)
		}
		src = zr
	case "deflate": // HTTP's deflate is the zlib format (RFC 9110 8.4.1.2)
		zr, err := zlib.NewReader(src)
		if err != nil {
			return x.filterFailure(fail, err)
		}
		src = zr
	default:
		return fail(reasonFilterUpstream, fmt.Errorf("Content-Encoding %q", enc))
	}
	delete(h, "Content-Encoding")

	run := f.plan.Filter
	if f.prog.Pure() {
		// Records with the same values in the members the filter reads
		// share one evaluation.
		run = f.plan.FilterPure
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		st, err := run(pw, src, f.pred)
		f.stats, f.err = st, err
		if err != nil {
			pw.CloseWithError(err)
		} else {
			pw.Close()
		}
		done <- err
	}()
	buf := make([]byte, firstChunk)
	n, err := io.ReadFull(pr, buf)
	if err == nil { // more to come: stream the rest
		res.Body = &filteredBody{Reader: io.MultiReader(bytes.NewReader(buf[:n]), pr), pr: pr, upstream: res.Body, done: done}
		return nil
	}
	// The filter has finished (the pipe ends only when it does): all of
	// the output is in buf, and nothing has been sent yet.
	ferr := <-done
	_ = res.Body.Close()
	if errors.Is(ferr, records.ErrRefused) {
		// The response is one record the caller may not see: as far as
		// the caller knows, it does not exist.
		if !ok {
			return sameStatus(res, reasonFilterHidden, nil)
		}
		return &Error{Status: http.StatusNotFound, Reason: reasonFilterHidden}
	}
	if ferr != nil && x.out.filter.stats.BytesIn == 0 && unfilterable(ferr) {
		// An empty body (a chunked one, or one that decodes to
		// nothing) holds no record.
		res.Body = http.NoBody
		x.out.filter.err = nil
		return nil
	}
	if ferr != nil {
		return x.filterFailure(fail, ferr)
	}
	res.Body = io.NopCloser(bytes.NewReader(buf[:n]))
	return nil
}

// sameStatus is the generic error that replaces the body of an upstream's
// error response: its status, and of its headers only Allow (405) and a
// Retry-After in seconds, which tell the client what to do next.
func sameStatus(res *http.Response, reason string, err error) *Error {
	e := &Error{Status: res.StatusCode, Reason: reason, Err: err}
	if e.Status == http.StatusMethodNotAllowed {
		e.Allow = res.Header.Get("Allow")
	}
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s > 0 {
		e.RetryAfter = s
	}
	return e
}

// filterFailure classifies why a response could not be filtered: the
// client went away (its closed connection ended the upstream read: 499
// client_closed), the upstream's bytes are not filterable (fail), or
// reading them failed (upstreamError: 502 or 504). Only the second says
// that the upstream's answers changed.
func (x *transaction) filterFailure(fail func(string, error) *Error, err error) *Error {
	ctx := x.r.Context()
	if ctx.Err() != nil {
		return refuse(statusClientClosed, reasonClientClosed, err)
	}
	if unfilterable(err) {
		return fail(reasonFilterUpstream, err)
	}
	return upstreamError(ctx, err)
}

// upstreamRead marks the errors of reading the upstream's body, so that
// they can be told from the errors of what was read (filterFailure).
type upstreamRead struct{ r io.Reader }

func (u upstreamRead) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	if err != nil && err != io.EOF {
		err = &upstreamReadError{err}
	}
	return n, err
}

type upstreamReadError struct{ err error }

func (e *upstreamReadError) Error() string { return e.err.Error() }
func (e *upstreamReadError) Unwrap() error { return e.err }

// unfilterable reports whether err says that the upstream's bytes cannot be
// filtered (invalid JSON, a corrupt gzip stream, ...), not that reading
// them or handing on the output failed.
func unfilterable(err error) bool {
	var re *upstreamReadError
	return !errors.As(err, &re) && !errors.Is(err, errResponseClosed)
}

// errResponseClosed ends a filter whose response was closed before the
// filter finished (the client went away, or the copy failed).
var errResponseClosed = errors.New("response closed")

// filteredBody is the rest of a filtered response. Closing it stops the
// filter (its writes fail) and waits for it, so that no goroutine outlives
// the request.
type filteredBody struct {
	io.Reader
	pr       *io.PipeReader
	upstream io.ReadCloser
	done     chan error
}

// Read fills p unless the output ends first. ReverseProxy flushes after
// every read of a body of unknown length, and each flush is a chunk and a
// write system call: reading what the filter hands over piece by piece
// would cost several per buffer.
func (b *filteredBody) Read(p []byte) (int, error) {
	n, err := io.ReadFull(b.Reader, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

func (b *filteredBody) Close() error {
	b.pr.CloseWithError(errResponseClosed)
	_ = b.upstream.Close()
	<-b.done
	return nil
}

var _ stage = filterRecords{}
