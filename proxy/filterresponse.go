package proxy

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
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

// Read fills p unless the output ends first. Each read of a body of
// unknown length becomes one chunk of the response (and ReverseProxy
// would flush after it, but see unflushed): reading what the filter hands
// over piece by piece would cost several chunks, and write system calls,
// per buffer.
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
