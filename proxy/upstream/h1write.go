package upstream

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// requestHead is the head of a request on HTTP1Transport's fast path: the
// bytes http.Request.Write writes for a GET, HEAD or OPTIONS without a
// body, followed by fields, the header fields gatehouse sets itself (see
// FieldsRoundTripper). HTTP1Transport.head has validated every name and value in
// header and fields, the URI and the host.
//
// One difference from Request.Write: the header is written in map order,
// not sorted. The order of fields with different names carries no meaning
// (RFC 9110, section 5.3), and sorting them was one of the costlier steps of
// forwarding a request (docs/benchmarks.md). Values of one name keep their
// order.
type requestHead struct {
	method, uri, host string
	header            http.Header
	fields            [][2]string
}

// head validates req (a request direct accepts) and fields and returns
// their head. As http.Transport, it lets nothing invalid reach the wire.
func (t *HTTP1Transport) head(req *http.Request, fields [][2]string) (requestHead, error) {
	for k, vv := range req.Header {
		if err := checkField(k, vv...); err != nil {
			return requestHead{}, err
		}
	}
	for _, kv := range fields {
		if err := checkField(kv[0], kv[1]); err != nil {
			return requestHead{}, err
		}
	}
	host, err := t.hostHeader(req)
	if err != nil {
		return requestHead{}, err
	}
	uri := req.URL.RequestURI()
	if hasCTL(uri) {
		return requestHead{}, errors.New("control character in the request target")
	}
	return requestHead{method: req.Method, uri: uri, host: host, header: req.Header, fields: fields}, nil
}

// checkField refuses a header field http.Transport would refuse.
func checkField(name string, values ...string) error {
	if !httpguts.ValidHeaderFieldName(name) {
		return fmt.Errorf("invalid header field name %q", name)
	}
	for _, v := range values {
		if !httpguts.ValidHeaderFieldValue(v) {
			return fmt.Errorf("invalid header field value for %q", name)
		}
	}
	return nil
}

// write writes the head to w. A write error sticks to w and is returned by
// its Flush.
func (h *requestHead) write(w *bufio.Writer) {
	w.WriteString(h.method)
	w.WriteByte(' ')
	w.WriteString(h.uri)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(h.host)
	w.WriteString("\r\n")
	// As Request.Write: the first User-Agent, and none when it is empty.
	// Without one Request.Write sends Go's own; this sends none, which is
	// what ReverseProxy asks for by setting an empty one.
	if ua := h.header["User-Agent"]; len(ua) > 0 && ua[0] != "" {
		writeField(w, "User-Agent", ua[0])
	}
	// No Content-Length: Request.Write sends none for these methods
	// without a body either.
	for k, vv := range h.header {
		switch k {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
			continue // written above, or not at all, as Request.Write does
		}
		for _, v := range vv {
			writeField(w, k, v)
		}
	}
	for _, kv := range h.fields {
		writeField(w, kv[0], kv[1])
	}
	w.WriteString("\r\n")
}

// writeField writes one header line. v holds no CR or LF (validated), so
// Request.Write's replacement of those by spaces has nothing to do; the
// trimming of surrounding white space it does too.
func writeField(w *bufio.Writer, k, v string) {
	w.WriteString(k)
	w.WriteString(": ")
	w.WriteString(textproto.TrimString(v))
	w.WriteString("\r\n")
}

// hostHeader returns the Host field Request.Write would send for req:
// req.Host, or the URL's host, in punycode, without an IPv6 zone, and empty
// when it is not a valid Host value.
func (t *HTTP1Transport) hostHeader(req *http.Request) (string, error) {
	h := req.Host
	if h == "" {
		h = req.URL.Host
	}
	if h == t.host {
		return t.hostField, t.hostErr
	}
	return hostField(h)
}

func hostField(h string) (string, error) {
	h, err := httpguts.PunycodeHostPort(h)
	if err != nil {
		return "", err
	}
	if !httpguts.ValidHostHeader(h) {
		// Request.Write sends an empty Host rather than an altered one
		// (RFC 9112, section 3.2, allows it).
		return "", nil
	}
	return removeZone(h), nil
}

// removeZone removes the IPv6 zone from host, as an intermediary must (RFC
// 6874); the same as net/http's unexported function of that name.
func removeZone(host string) string {
	if !strings.HasPrefix(host, "[") {
		return host
	}
	i := strings.LastIndex(host, "]")
	if i < 0 {
		return host
	}
	j := strings.LastIndex(host[:i], "%")
	if j < 0 {
		return host
	}
	return host[:j] + host[i:]
}

// hasCTL reports whether s holds an ASCII control character, which a
// request target never does.
func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}
