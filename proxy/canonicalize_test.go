package proxy

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestCanonicalize_RefusesBeforeAnyUpstream sends malformed requests on the
// wire and checks the status and that the upstream received nothing.
func TestCanonicalize_RefusesBeforeAnyUpstream(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	addr := p.Listener.Addr().String()
	key := "X-API-Key: " + testAdminKey + "\r\n"
	h := "Host: x\r\n" + key + "Connection: close\r\n\r\n"
	cases := []struct {
		name, req, status string
	}{
		{"dot segment", "GET /hr/employees/../salary HTTP/1.1\r\n" + h, "400"},
		{"single dot", "GET /hr/./employees HTTP/1.1\r\n" + h, "400"},
		{"encoded dot lower", "GET /hr/%2e%2e/hr/x HTTP/1.1\r\n" + h, "400"},
		{"encoded dot upper", "GET /hr/%2E%2E/x HTTP/1.1\r\n" + h, "400"},
		{"mixed dot", "GET /hr/.%2e/x HTTP/1.1\r\n" + h, "400"},
		{"encoded slash", "GET /hr/employees%2f5 HTTP/1.1\r\n" + h, "400"},
		{"encoded slash upper", "GET /hr/employees%2F5 HTTP/1.1\r\n" + h, "400"},
		{"encoded backslash", "GET /hr/employees%5c5 HTTP/1.1\r\n" + h, "400"},
		{"raw backslash", "GET /hr/employees\\5 HTTP/1.1\r\n" + h, "400"},
		{"encoded NUL", "GET /hr/employees%00 HTTP/1.1\r\n" + h, "400"},
		{"encoded semicolon", "GET /hr/employees%3b5 HTTP/1.1\r\n" + h, "400"},
		{"raw semicolon", "GET /hr/employees;x=1 HTTP/1.1\r\n" + h, "400"},
		{"encoded hash", "GET /hr/employees%235 HTTP/1.1\r\n" + h, "400"},
		{"raw hash", "GET /hr/employees#5 HTTP/1.1\r\n" + h, "400"},
		{"encoded question mark", "GET /hr/employees%3f HTTP/1.1\r\n" + h, "400"},
		{"double encoding", "GET /hr/%252e%252e/x HTTP/1.1\r\n" + h, "400"},
		{"double slash", "GET /hr//employees HTTP/1.1\r\n" + h, "400"},
		{"leading double slash", "GET //hr/employees HTTP/1.1\r\n" + h, "400"},
		{"invalid UTF-8", "GET /hr/employees/%ff%fe HTTP/1.1\r\n" + h, "400"},
		{"overlong UTF-8 slash", "GET /hr/employees/%c0%af HTTP/1.1\r\n" + h, "400"},
		{"bad escape", "GET /hr/employees/%zz HTTP/1.1\r\n" + h, "400"},
		{"absolute form other host", "GET http://evil.example/hr/employees HTTP/1.1\r\n" + h, "400"},
		{"CONNECT", "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n" + key + "Connection: close\r\n\r\n", "400"},
		{"TRACE", "TRACE /pub/x HTTP/1.1\r\n" + h, "405"},
		{"TRACK", "TRACK /pub/x HTTP/1.1\r\n" + h, "405"},
		{"asterisk form", "OPTIONS * HTTP/1.1\r\n" + h, "400"},
		{"duplicate Host", "GET /hr/employees HTTP/1.1\r\nHost: a\r\nHost: b\r\n" + key + "Connection: close\r\n\r\n", "400"},
		{"conflicting Content-Length", "POST /hr/employees HTTP/1.1\r\nHost: x\r\n" + key + "Content-Length: 3\r\nContent-Length: 4\r\nConnection: close\r\n\r\nabcd", "400"},
		{"too many segments", "GET /hr" + strings.Repeat("/a", 200) + " HTTP/1.1\r\n" + h, "414"},
		{"header too large", "GET /hr/employees HTTP/1.1\r\nHost: x\r\n" + key + "X-Big: " + strings.Repeat("b", 16<<10) + "\r\nConnection: close\r\n\r\n", "431"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, all := raw(t, addr, tc.req)
			if !strings.HasPrefix(status, "HTTP/1.1 "+tc.status+" ") {
				t.Errorf("got %q, want %s", status, tc.status)
			}
			if strings.Contains(all, "upstream ok") {
				t.Errorf("response carries the upstream body: %q", all)
			}
		})
	}
	if n := len(up.requests()); n != 0 {
		t.Fatalf("upstream received %d requests, want 0: %+v", n, up.requests())
	}
}

// TestCanonicalize_TransferEncodingWithContentLength: a request with both
// framing headers is refused and its connection closed, so nothing that a
// front proxy could have framed differently reaches the upstream.
func TestCanonicalize_TransferEncodingWithContentLength(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	smuggled := "GET /hr/employees/1/salary HTTP/1.1\r\nHost: x\r\nX-API-Key: " + testAdminKey + "\r\n\r\n"
	body := "0\r\n\r\n" + smuggled
	for _, te := range []string{"chunked", "Chunked", "chunked, identity"} {
		req := "POST /hr/employees HTTP/1.1\r\nHost: x\r\nX-API-Key: " + testAdminKey + "\r\n" +
			"Content-Length: " + strconv.Itoa(len(body)) + "\r\nTransfer-Encoding: " + te + "\r\n\r\n" + body
		status, all := raw(t, p.Listener.Addr().String(), req)
		if !strings.HasPrefix(status, "HTTP/1.1 400 ") && !strings.HasPrefix(status, "HTTP/1.1 501 ") {
			t.Errorf("TE %q: got %q, want 400 (or 501 from net/http)", te, status)
		}
		if strings.Count(all, "HTTP/1.1 ") != 1 {
			t.Errorf("TE %q: the connection served more than one response:\n%s", te, all)
		}
	}
	if n := len(up.requests()); n != 0 {
		t.Fatalf("upstream got %d requests, want 0: %+v", n, up.requests())
	}
}

// TestCanonicalize_FramingFollowsPipelinedRequests sends well-framed
// requests back to back on one connection (Content-Length bodies, chunked
// bodies with extensions and trailers, no body) and checks that none is
// mistaken for a conflict, then that a conflicting one later on the same
// connection is still caught.
func TestCanonicalize_FramingFollowsPipelinedRequests(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	k := "X-API-Key: " + testAdminKey + "\r\n"
	fake := "GET /x HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n" // looks like a head, is a body
	reqs := "POST /hr/employees HTTP/1.1\r\nHost: x\r\n" + k + "Content-Length: " + strconv.Itoa(len(fake)) + "\r\n\r\n" + fake +
		"GET /hr/employees HTTP/1.1\r\nHost: x\r\n" + k + "\r\n" +
		"PUT /hr/employees HTTP/1.1\r\nHost: x\r\n" + k + "Transfer-Encoding: chunked\r\n\r\n" +
		"5;ext=1\r\nhello\r\n" + strconv.FormatInt(int64(len(fake)), 16) + "\r\n" + fake + "\r\n0\r\nX-Trailer: 1\r\n\r\n" +
		"GET /hr/employees/2 HTTP/1.1\r\nHost: x\r\n" + k + "\r\n" +
		"POST /hr/employees HTTP/1.1\r\nHost: x\r\n" + k + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	_, all := raw(t, p.Listener.Addr().String(), reqs)
	var statuses []string
	for _, m := range regexp.MustCompile(`HTTP/1\.1 (\d{3}) `).FindAllStringSubmatch(all, -1) {
		statuses = append(statuses, m[1])
	}
	if got := strings.Join(statuses, " "); got != "200 200 200 200 400" {
		t.Fatalf("statuses %q, want \"200 200 200 200 400\"\n%s", got, all)
	}
	got := up.requests()
	if len(got) != 4 || got[0].Body != fake || got[2].Body != "hello"+fake {
		t.Errorf("upstream got %+v", got)
	}
}

// FuzzFraming checks that the framing follower never panics and that how
// the bytes are split into reads does not change what it concludes.
func FuzzFraming(f *testing.F) {
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), uint8(3))
	f.Add([]byte("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n"), uint8(1))
	f.Add([]byte("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		whole, split := &framingConn{}, &framingConn{}
		whole.follow(data)
		n := int(step%16) + 1
		for i := 0; i < len(data); i += n {
			split.follow(data[i:min(i+n, len(data))])
		}
		if whole.heads != split.heads || whole.state != split.state || len(whole.bad) != len(split.bad) {
			t.Fatalf("split by %d: heads %d/%d, state %d/%d, conflicts %v/%v",
				n, whole.heads, split.heads, whole.state, split.state, whole.bad, split.bad)
		}
	})
}

func TestCanonicalize_AbsoluteFormForThisListener(t *testing.T) {
	up := newUpstream(t, nil)
	p := newTestProxy(t, testSpec(t, up.URL))
	addr := p.Listener.Addr().String()
	status, _ := raw(t, addr, "GET http://"+addr+"/hr/employees/%61 HTTP/1.1\r\nHost: "+addr+"\r\nX-API-Key: "+testKey+"\r\nConnection: close\r\n\r\n")
	if !strings.Contains(status, " 200 ") {
		t.Fatalf("got %q, want 200", status)
	}
	if got := up.last(t).RequestURI; got != "/api/employees/a" {
		t.Errorf("upstream got %q, want /api/employees/a", got)
	}
}

// canonicalizeSeeds are FuzzCanonicalize's seed targets; the explain
// property test (explain_property_test.go) draws from them too, with the
// corpus under testdata/fuzz/FuzzCanonicalize.
var canonicalizeSeeds = []string{
	"/", "/a", "/a/b/", "/a%2fb", "/%2e%2e/x", "/a/./b", "/caf%c3%a9", "/a;b", "/a?x=1", "/a%3F",
	"/a/%252e", "//a", "/a\\b", "/%ff", "/~user/x:y@z", "/a b", "/a|b", "*", "http://h/a",
}

// FuzzCanonicalize feeds arbitrary request targets through the canonicalize
// stage. Whatever it accepts must re-canonicalize to itself and contain no
// dot segment, empty segment or encoded separator.
func FuzzCanonicalize(f *testing.F) {
	for _, s := range canonicalizeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		x := &transaction{r: &http.Request{Method: "GET", RequestURI: target}}
		if r, err := http.NewRequest("GET", "http://127.0.0.1/", nil); err == nil {
			x.r.URL = r.URL
		}
		if err := (canonicalize{}).serve(x); err != nil {
			return
		}
		esc := x.facts.path.Escaped
		if !strings.HasPrefix(esc, "/") || strings.Contains(esc, "//") {
			t.Fatalf("%q: canonical %q is not absolute or has //", target, esc)
		}
		up := strings.ToUpper(esc)
		for _, bad := range []string{"%2F", "%5C", "%00", "%3B", "%23", "%3F", "%25", "%2E", "\\", ";", "#", "?"} {
			if strings.Contains(up, bad) {
				t.Fatalf("%q: canonical %q contains %q", target, esc, bad)
			}
		}
		for _, s := range x.facts.path.Segments {
			if s == "." || s == ".." || s == "" || strings.ContainsAny(s, "/\\\x00;") {
				t.Fatalf("%q: bad segment %q", target, s)
			}
		}
		y := &transaction{r: httptest.NewRequest("GET", "/", nil)}
		y.r.RequestURI = esc
		if err := (canonicalize{}).serve(y); err != nil {
			t.Fatalf("%q: canonical %q refused on the second pass: %v", target, esc, err)
		}
		if y.facts.path.Escaped != esc {
			t.Fatalf("%q: not a fixed point: %q -> %q", target, esc, y.facts.path.Escaped)
		}
	})
}
