package proxy

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"
)

// Request bodies.
//
// A body of at most body_buffer_bytes (default 64 KiB, like nginx's
// client_body_buffer_size) is read whole before the upstream is dialled.
// Whatever is wrong with it (chunked framing the follower or net/http
// refuses, a body shorter or longer than its Content-Length, a client that
// hangs up or stalls, max_body_bytes) is then refused before the upstream
// sees a byte of the request, and the upstream gets the body with a
// Content-Length, never chunked and never with trailers. A larger body (or
// any body, with body_buffer_bytes = 0) streams: its first bytes may reach
// the upstream before a fault further on is seen, and the upstream request
// is then cut off mid-body (the upstream connection is closed) while the
// client gets the same refusal. Either way the client's failures are
// classified as the client's (4xx or 499), never as the upstream's (502).
//
// Request trailers are never forwarded.

// Stable reasons for request bodies that cannot be forwarded.
const (
	reasonMalformedBody  = "malformed_body"  // chunked framing refused, or a body net/http could not read
	reasonIncompleteBody = "incomplete_body" // the body ended before its declared length or last chunk
	reasonBodyTimeout    = "body_timeout"    // the client did not send its body within read_timeout
)

// errBodyTooLong is a body with more bytes than its Content-Length (an
// HTTP/2 client can send one; HTTP/1 framing cannot express it).
var errBodyTooLong = errors.New("request body is longer than its Content-Length")

// prepareBody gets r's body ready to go upstream: read whole when it has at
// most threshold bytes (0: never), else wrapped to stream (clientBody). r
// has a body (not http.NoBody). A body that is already in memory (read by
// an earlier stage through setBody) is left alone.
func (x *transaction) prepareBody(r *http.Request, threshold int64) error {
	r.Trailer = nil
	if x.body.inMemory {
		return nil
	}
	var read int64
	if threshold > 0 && r.ContentLength <= threshold {
		buf, err := readBody(r.Body, r.ContentLength, threshold)
		if err != nil {
			return x.bodyError(err, int64(len(buf)))
		}
		if int64(len(buf)) <= threshold {
			x.setBody(buf)
			return nil
		}
		// Longer than the threshold (unknown length): stream, starting with
		// what was read.
		read = int64(len(buf))
		r.Body = readCloser{io.MultiReader(bytes.NewReader(buf), r.Body), r.Body}
	}
	b := &clientBody{rc: r.Body, n: read}
	r.Body = b
	x.body.stream = b
	return nil
}

// readBody reads a body of length n (-1: unknown) whole, or its first
// limit+1 bytes when n is unknown and the body is longer. On error it
// returns what it read so far.
func readBody(body io.Reader, n, limit int64) ([]byte, error) {
	if n < 0 {
		return io.ReadAll(io.LimitReader(body, limit+1))
	}
	buf := make([]byte, n)
	k, err := io.ReadFull(body, buf)
	if err != nil {
		return buf[:k], err
	}
	// The end must follow: an HTTP/1 body reader says so at once, an
	// HTTP/2 one only when the stream ends as its length said.
	var one [1]byte
	if k, err = io.ReadAtLeast(body, one[:], 1); k > 0 {
		return buf, errBodyTooLong
	}
	if err != io.EOF {
		return buf, err
	}
	return buf, nil
}

// maxWholeBody bounds the bodies that stages read whole (readWholeBody)
// when max_body_bytes sets no limit.
const maxWholeBody = 10 << 20

// readWholeBody reads the request body whole, for a stage that must see all
// of it (filterRecords, methodOverride), up to max_body_bytes (413 beyond
// it). A failure is the client's, classified as forward classifies it
// (bodyError: malformed framing, short, stalled, gone, too large). The
// caller puts the bytes back with setBody.
func (x *transaction) readWholeBody() ([]byte, error) {
	r := x.r
	limit := x.snap().MaxBodyBytes()
	if limit <= 0 {
		limit = maxWholeBody
	}
	if r.ContentLength > limit {
		return nil, refuse(http.StatusRequestEntityTooLarge, reasonBodyTooLarge, nil)
	}
	body, err := io.ReadAll(http.MaxBytesReader(x.w, r.Body, limit))
	if err != nil {
		return nil, x.bodyError(err, int64(len(body)))
	}
	return body, nil
}

// setBody makes b the request's body: in memory, with a Content-Length,
// no Transfer-Encoding and no trailers. Stages that read the body whole
// (filterRecords, methodOverride) use it, and forward then has nothing more to do. Expect
// goes too: the body is here, the upstream has nothing to agree to.
func (x *transaction) setBody(b []byte) {
	r := x.r
	if len(b) == 0 {
		r.Body = http.NoBody
	} else {
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	r.ContentLength = int64(len(b))
	r.TransferEncoding = nil
	r.Trailer = nil
	delete(r.Header, "Transfer-Encoding")
	delete(r.Header, "Expect")
	x.body.inMemory = true
}

// bodyError classifies a failure to read the client's body after read
// bytes: always the client's doing, never the upstream's. The connection is
// closed after an HTTP/1 response (where the next request would start is
// unknown).
func (x *transaction) bodyError(err error, read int64) *Error {
	e := &Error{Status: http.StatusBadRequest, Reason: reasonMalformedBody, Err: err, Close: x.r.ProtoMajor < 2}
	var fault string // the framing follower's verdict on this body
	if x.conn.fc != nil {
		fault = x.conn.fc.bodyFault(x.conn.reqNum)
	}
	var mbe *http.MaxBytesError
	switch {
	case fault != "":
		e.Err = errors.New(fault)
	case errors.As(err, &mbe):
		e.Status, e.Reason = http.StatusRequestEntityTooLarge, reasonBodyTooLarge
	case isTimeout(err):
		e.Status, e.Reason = http.StatusRequestTimeout, reasonBodyTimeout
	case x.r.Context().Err() != nil:
		// The client went away (net/http cancels the request when the
		// connection ends, HTTP/2 when the stream is reset).
		e.Status, e.Reason = statusClientClosed, reasonClientClosed
	case errors.Is(err, io.ErrUnexpectedEOF) || x.r.ContentLength > 0 && read < x.r.ContentLength:
		e.Reason = reasonIncompleteBody
	}
	return e
}

// clientBody is the client's body while it streams upstream. It keeps the
// first read error and the bytes read before it, so that an transaction that
// failed because of the client's body is classified as such (errorHandler),
// not as an upstream failure.
type clientBody struct {
	rc io.ReadCloser
	n  int64 // bytes read; only the reading goroutine touches it

	mu   sync.Mutex
	err  error
	errN int64
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if err != nil && err != io.EOF {
		b.mu.Lock()
		if b.err == nil {
			b.err, b.errN = err, b.n
		}
		b.mu.Unlock()
	}
	return n, err
}

func (b *clientBody) Close() error { return b.rc.Close() }

// failure returns the first read error and the bytes read before it.
func (b *clientBody) failure() (read int64, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.errN, b.err
}

type readCloser struct {
	io.Reader
	io.Closer
}
