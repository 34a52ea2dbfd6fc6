package upstream

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// writeHead returns the head HTTP1Transport t writes for req and fields, or
// the error that keeps it off the wire.
func writeHead(t *HTTP1Transport, req *http.Request, fields [][2]string) (string, error) {
	head, err := t.head(req, fields)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	head.write(w)
	if err := w.Flush(); err != nil {
		return "", err
	}
	return b.String(), nil
}

// stdHead returns what http.Request.Write writes for req with fields added
// to its header, as RoundTripWithFields does for any other transport.
func stdHead(req *http.Request, fields [][2]string) (string, error) {
	r := req.Clone(req.Context())
	setFields(r.Header, fields)
	var b bytes.Buffer
	if err := r.Write(&b); err != nil {
		return "", err
	}
	return b.String(), nil
}

// sameHead compares two request heads: the same request line, then the
// same header lines in any order (requestHead does not sort; Request.Write
// does), the lines of one name in the same order, then the blank line.
func sameHead(got, want string) bool {
	split := func(s string) (string, []string, bool) {
		s, ok := strings.CutSuffix(s, "\r\n\r\n")
		lines := strings.Split(s, "\r\n")
		return lines[0], lines[1:], ok
	}
	gl, gh, gok := split(got)
	wl, wh, wok := split(want)
	if !gok || !wok || gl != wl {
		return false
	}
	byName := func(lines []string) map[string][]string {
		m := map[string][]string{}
		for _, l := range lines {
			name, _, _ := strings.Cut(l, ":")
			m[name] = append(m[name], l)
		}
		return m
	}
	g, w := byName(gh), byName(wh)
	if len(g) != len(w) {
		return false
	}
	for name, lines := range w {
		if !slices.Equal(g[name], lines) {
			return false
		}
	}
	return true
}

func TestRequestHead_WritesWhatRequestWriteWrites(t *testing.T) {
	tr := newHTTP1Transport(testFallback(), "127.0.0.1:9")
	fields := [][2]string{
		{"X-Forwarded-For", "10.0.0.1"},
		{"X-Gatehouse-App", "shop"},
		{"X-Request-Id", "01HZY"},
	}
	tests := []struct {
		name   string
		method string
		target string // path and query, as rewrite leaves them
		host   string // req.Host; "" sends the URL's
		header http.Header
		fields [][2]string
	}{
		{name: "plain GET", method: "GET", target: "/small",
			header: http.Header{"User-Agent": {"wrk"}, "Accept": {"*/*"}}},
		{name: "own fields after the client's", method: "GET", target: "/a/b", fields: fields,
			header: http.Header{"User-Agent": {"curl/8"}, "Accept": {"application/json"}, "X-Custom": {"1"}}},
		{name: "HEAD", method: "HEAD", target: "/x", fields: fields,
			header: http.Header{"User-Agent": {""}}},
		{name: "OPTIONS without a body", method: "OPTIONS", target: "/x",
			header: http.Header{"User-Agent": {""}, "Origin": {"https://a.example"}}},
		{name: "empty User-Agent is not sent", method: "GET", target: "/",
			header: http.Header{"User-Agent": {""}, "Accept": {"*/*"}}},
		{name: "only the first User-Agent", method: "GET", target: "/",
			header: http.Header{"User-Agent": {"one", "two"}}},
		{name: "values trimmed, empty values kept", method: "GET", target: "/",
			header: http.Header{"User-Agent": {" \tua\t "}, "X-A": {"  v  "}, "X-Empty": {""}, "X-Tab": {"\tx"}}},
		{name: "many values of one name keep their order", method: "GET", target: "/",
			header: http.Header{"User-Agent": {"u"}, "Accept": {"c", "a", "b"}, "Cookie": {"z=1", "a=2"}}},
		{name: "names as the map has them", method: "GET", target: "/",
			header: http.Header{"User-Agent": {"u"}, "x_lower_under": {"1"}, "X-UPPER": {"2"}}},
		{name: "framing and host names in the header are not written", method: "GET", target: "/",
			header: http.Header{"User-Agent": {"u"}, "Host": {"evil.example"}, "Content-Length": {"5"},
				"Transfer-Encoding": {"chunked"}, "Trailer": {"X-T"}}},
		{name: "escaped path and query as given", method: "GET", target: "/a%2Fb/c%20d/!(x)?q=%41&r=a+b",
			header: http.Header{"User-Agent": {"u"}}},
		{name: "empty query is kept", method: "GET", target: "/p?",
			header: http.Header{"User-Agent": {"u"}}},
		{name: "no path", method: "GET", target: "",
			header: http.Header{"User-Agent": {"u"}}},
		{name: "Host from req.Host", method: "GET", target: "/", host: "api.example:8080",
			header: http.Header{"User-Agent": {"u"}}},
		{name: "Host in punycode", method: "GET", target: "/", host: "bücher.example",
			header: http.Header{"User-Agent": {"u"}}},
		{name: "Host without its IPv6 zone", method: "GET", target: "/", host: "[fe80::1%25eth0]:8080",
			header: http.Header{"User-Agent": {"u"}}},
		{name: "invalid Host is sent empty", method: "GET", target: "/", host: "a b/c",
			header: http.Header{"User-Agent": {"u"}}},
		{name: "many client fields", method: "GET", target: "/", fields: fields,
			header: http.Header{"User-Agent": {"u"}, "A": {"1"}, "B": {"2"}, "C": {"3"}, "D": {"4"}, "E": {"5"},
				"F": {"6"}, "G": {"7"}, "H": {"8"}, "I": {"9"}, "J": {"10"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse("http://127.0.0.1:9" + tt.target)
			if err != nil {
				t.Fatal(err)
			}
			req := &http.Request{Method: tt.method, URL: u, Host: tt.host, Header: tt.header}
			if !tr.direct(req) {
				t.Fatal("the fast path refuses this request; the test would not test it")
			}
			got, err := writeHead(tr, req, tt.fields)
			if err != nil {
				t.Fatalf("head: %v", err)
			}
			want, err := stdHead(req, tt.fields)
			if err != nil {
				t.Fatalf("Request.Write: %v", err)
			}
			if !sameHead(got, want) {
				t.Errorf("requestHead wrote\n%q\nRequest.Write wrote\n%q", got, want)
			}
		})
	}
}

func TestRequestHead_RefusesWhatMustNotReachTheWire(t *testing.T) {
	tr := newHTTP1Transport(testFallback(), "127.0.0.1:9")
	tests := []struct {
		name   string
		header http.Header
		fields [][2]string
		query  string
	}{
		{name: "CR LF in a client value", header: http.Header{"X-A": {"v\r\nX-Gatehouse-User: root"}}},
		{name: "LF in a client value", header: http.Header{"X-A": {"v\nX: y"}}},
		{name: "NUL in a client value", header: http.Header{"X-A": {"v\x00"}}},
		{name: "space in a client name", header: http.Header{"X A": {"v"}}},
		{name: "colon in a client name", header: http.Header{"X:A": {"v"}}},
		{name: "empty client name", header: http.Header{"": {"v"}}},
		{name: "CR LF in an own field", fields: [][2]string{{"X-Gatehouse-User", "bob\r\nX-Gatehouse-Admin: true"}}},
		{name: "invalid own field name", fields: [][2]string{{"X Bad", "v"}}},
		{name: "control character in the query", query: "a=\x01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"User-Agent": {"u"}}
			for k, v := range tt.header {
				h[k] = v
			}
			req := &http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: "127.0.0.1:9", Path: "/", RawQuery: tt.query}, Header: h}
			if got, err := writeHead(tr, req, tt.fields); err == nil {
				t.Errorf("written: %q", got)
			}
		})
	}
}

// FuzzRequestHead checks requestHead against http.Request.Write: whatever
// HTTP1Transport.head accepts is written as Request.Write writes it, and
// nothing it accepts carries a line break into the head.
func FuzzRequestHead(f *testing.F) {
	f.Add(uint8(0), "/a", "q=1", "X-A", "v", "ua", "bob")
	f.Add(uint8(2), "/a%2Fb", "", "x_b", " v ", "", "")
	f.Add(uint8(1), "/", "a=%zz", "Accept", "\tx", "u\r\nX: y", "a\nb")
	f.Fuzz(func(t *testing.T, m uint8, path, query, key, value, ua, user string) {
		tr := newHTTP1Transport(testFallback(), "127.0.0.1:9")
		methods := []string{"GET", "HEAD", "OPTIONS"}
		u, err := url.Parse("http://127.0.0.1:9" + path)
		if err != nil || u.Host != "127.0.0.1:9" || u.User != nil {
			return
		}
		u.RawQuery, u.Fragment = query, ""
		req := &http.Request{
			Method: methods[int(m)%len(methods)],
			URL:    u,
			Header: http.Header{"User-Agent": {ua}, key: {value}},
		}
		fields := [][2]string{{"X-Gatehouse-User", user}, {"X-Request-Id", "r1"}}
		if !tr.direct(req) {
			return
		}
		got, err := writeHead(tr, req, fields)
		if err != nil {
			return // refused: nothing is written
		}
		if strings.Count(got, "\r\n\r\n") != 1 || strings.Count(got, "\n") != strings.Count(got, "\r\n") {
			t.Fatalf("line break inside the head: %q", got)
		}
		want, err := stdHead(req, fields)
		if err != nil {
			t.Fatalf("requestHead wrote what Request.Write refuses (%v): %q", err, got)
		}
		if !sameHead(got, want) {
			t.Fatalf("requestHead wrote\n%q\nRequest.Write wrote\n%q", got, want)
		}
	})
}
