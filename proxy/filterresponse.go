package proxy

import (
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/policy/records"
)

// The response half of record filtering: forward's modifyResponse hands
// every response on a filtered route to filterResponse, which streams its
// body through the grant's records plan (policy/records) or refuses it.

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
	h := res.Header
	empty := res.Body == http.NoBody || res.ContentLength == 0
	// Sizes and validators of the unfiltered document must not reach the
	// client. filterBody sends the length of a filtered body that fits
	// in the first chunk, and streams a longer one (chunked).
	delete(h, "Content-Length")
	delete(h, "Etag")
	delete(h, "Content-Md5")
	delete(h, "Digest")
	delete(h, "Accept-Ranges")
	delete(h, "Last-Modified")
	// The body is this caller's view: no shared cache may keep it.
	h["Cache-Control"] = []string{"private, no-store"}
	res.ContentLength = -1
	fail := filterFail(res)
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
	if !records.JSONMediaType(h.Get("Content-Type")) {
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
	if f.prog != nil && f.prog.Pure() {
		// Records with the same values in the members the filter reads
		// share one evaluation.
		run = f.plan.FilterPure
	}
	res.Body = &filterBody{x: x, res: res, run: run, src: src, upstream: res.Body}
	x.fwd.filtering = true
	return nil
}

// filterBody is the body of a response on a filtered route as
// ReverseProxy reads it. ReverseProxy has written the status through
// heldStatus, which holds it back, when it first reads: that read runs the
// whole filter in the handler's goroutine, writing straight to the client,
// and returns no bytes. The status and the first output are held back
// until the filter has produced firstChunk bytes or finished (filterOut):
// until then the answer can still be another (a hidden single object's
// 404, a clean 502).
type filterBody struct {
	x        *transaction
	res      *http.Response
	run      func(io.Writer, io.Reader, records.Predicate) (records.Stats, error)
	src      io.Reader // the upstream's body, decoded
	upstream io.ReadCloser
	done     bool // the filter has run
	replaced bool // the response is an error of gatehouse's, not the upstream's
	closed   bool
}

func (b *filterBody) Read([]byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	b.done = true
	x, f := b.x, b.x.out.filter
	out := filterOut{w: x.w, code: b.res.StatusCode, pool: &x.srv.held}
	out.take()
	defer out.release()
	f.stats, f.err = b.run(&out, b.src, f.pred)
	if !out.sent {
		// The filter's output is all in out.held: the answer is decided
		// here.
		_ = b.Close()
		if e := b.failure(); e != nil {
			b.replaced = true
			x.srv.fail(x, e)
			return 0, io.EOF
		}
		out.send(len(b.res.Trailer) == 0)
	}
	switch {
	case out.err != nil:
		// The client's connection failed: ReverseProxy aborts the
		// response, as after a failed write of its own, and logs nothing
		// for context.Canceled.
		return 0, context.Canceled
	case f.err != nil:
		// Too late for another status: ReverseProxy cuts the connection,
		// so the client never gets a response that looks complete.
		return 0, f.err
	}
	return 0, io.EOF
}

// failure is the error that replaces a filtered response whose output is
// all held back, or nil when the output is the answer.
func (b *filterBody) failure() *Error {
	x, f, res := b.x, b.x.out.filter, b.res
	ok := res.StatusCode >= 200 && res.StatusCode <= 299
	switch {
	case errors.Is(f.err, records.ErrRefused):
		// The response is one record the caller may not see: as far as
		// the caller knows, it does not exist.
		if !ok {
			return sameStatus(res, reasonFilterHidden, nil)
		}
		return &Error{Status: http.StatusNotFound, Reason: reasonFilterHidden}
	case f.err != nil && f.stats.BytesIn == 0 && unfilterable(f.err):
		// An empty body (a chunked one, or one that decodes to
		// nothing) holds no record.
		f.err = nil
	case f.err != nil:
		return x.filterFailure(filterFail(res), f.err)
	}
	return nil
}

// Close stops reading the upstream. When the response was replaced by an
// error, the upstream's trailers go with its body.
func (b *filterBody) Close() error {
	if b.replaced {
		b.res.Trailer = nil
	}
	if b.closed {
		return nil
	}
	b.closed = true
	return b.upstream.Close()
}

// filterOut is where the filter's output goes: held back while it fits in
// held (firstChunk bytes), then, with the held status and bytes first,
// straight to the client. Its writes are the filter's batches, so no
// buffer of ReverseProxy's and no flush come between.
type filterOut struct {
	w    http.ResponseWriter
	code int
	pool *arrayPool[[firstChunk]byte]
	buf  *[firstChunk]byte // from pool, until the status is sent
	held []byte            // the output held in buf
	sent bool              // the status and the held bytes have been written
	err  error             // the client's connection failed
}

func (o *filterOut) take() {
	o.buf = o.pool.get()
	o.held = o.buf[:0]
}

// release gives buf back to the pool.
func (o *filterOut) release() {
	if o.buf != nil {
		o.pool.put(o.buf)
		o.buf, o.held = nil, nil
	}
}

// send writes the held status and bytes, with their Content-Length when
// they are the whole output (whole), and gives the buffer back: the rest
// streams.
func (o *filterOut) send(whole bool) {
	o.sent = true
	if whole {
		o.w.Header()["Content-Length"] = []string{strconv.Itoa(len(o.held))}
	}
	o.w.WriteHeader(o.code)
	_, o.err = o.w.Write(o.held)
	o.release()
}

func (o *filterOut) Write(p []byte) (int, error) {
	if !o.sent {
		if len(p) <= cap(o.held)-len(o.held) {
			o.held = append(o.held, p...)
			return len(p), nil
		}
		o.send(false)
	}
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.w.Write(p)
	if err != nil {
		o.err = err
	}
	return n, err
}

// filterFail returns the answer to res when its body cannot be filtered.
func filterFail(res *http.Response) func(reason string, err error) *Error {
	return func(reason string, err error) *Error {
		if res.StatusCode < 200 || res.StatusCode > 299 {
			// The status is the upstream's answer; only the body goes.
			return sameStatus(res, reasonFilterErrorBody, err)
		}
		return &Error{Status: http.StatusBadGateway, Reason: reason, Err: err}
	}
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
// them failed.
func unfilterable(err error) bool {
	var re *upstreamReadError
	return !errors.As(err, &re)
}
