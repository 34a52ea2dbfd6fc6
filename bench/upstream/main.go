// Command upstream is the origin server used by the gatehouse benchmarks
// (bench/run.sh). Every proxy under test forwards to it, so it must be much
// faster than any of them: bodies are precomputed, Content-Length is always
// set and connections are kept alive.
//
// Routes:
//
//	/records?n=N  a JSON array of N records, about 96 bytes each
//	              (N defaults to 10; 0 <= N <= 100000)
//	anything else the small body (20 bytes), so prefix-stripped and
//	              unstripped paths both work
//
// It is a benchmark fixture, not production code: it binds 127.0.0.1 by
// default and refuses to listen anywhere but loopback.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// maxRecords bounds n so that a typo cannot make the server build a
// gigabyte body.
const maxRecords = 100000

// maxCached bounds how many distinct n are kept; benchmarks use one or two.
const maxCached = 64

var smallBody = []byte("hello from upstream\n") // 20 bytes

// Header value slices shared by every response. net/http only reads them.
var (
	ctText = []string{"text/plain; charset=utf-8"}
	ctJSON = []string{"application/json"}
)

var departments = [...]string{"sales", "engineering", "support", "finance", "marketing", "legal"}

// body is a precomputed response with its Content-Length header value.
type body struct {
	b   []byte
	len []string
}

func newBody(b []byte) *body {
	return &body{b: b, len: []string{strconv.Itoa(len(b))}}
}

type server struct {
	small *body
	mu    sync.RWMutex
	cache map[int]*body
}

// records returns the JSON array for n records, building it on first use.
func (s *server) records(n int) *body {
	s.mu.RLock()
	b, ok := s.cache[n]
	s.mu.RUnlock()
	if ok {
		return b
	}
	b = newBody(buildRecords(n))
	s.mu.Lock()
	if len(s.cache) < maxCached {
		s.cache[n] = b
	}
	s.mu.Unlock()
	return b
}

// buildRecords renders n records such as
// {"id":1,"department":"engineering","level":2,"name":"Employee 00001","email":"e00001@example.io"}
// (about 96 bytes each with the separator; the numbers in name and email are
// zero-padded so record sizes vary little).
func buildRecords(n int) []byte {
	var buf bytes.Buffer
	buf.Grow(n*100 + 2)
	buf.WriteByte('[')
	for i := 1; i <= n; i++ {
		if i > 1 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf,
			`{"id":%d,"department":"%s","level":%d,"name":"Employee %05d","email":"e%05d@example.io"}`,
			i, departments[i%len(departments)], 1+i%5, i, i)
	}
	buf.WriteByte(']')
	return buf.Bytes()
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, ct := s.small, ctText
	if r.URL.Path == "/records" {
		n := 10
		if q := r.URL.Query().Get("n"); q != "" {
			v, err := strconv.Atoi(q)
			if err != nil || v < 0 || v > maxRecords {
				http.Error(w, "n must be an integer in [0, 100000]", http.StatusBadRequest)
				return
			}
			n = v
		}
		b, ct = s.records(n), ctJSON
	}
	h := w.Header()
	// Direct map writes: the keys are already canonical, so this skips
	// CanonicalHeaderKey and the per-request []string allocation of Set.
	h["Content-Type"] = ct
	h["Content-Length"] = b.len
	if r.Method == http.MethodHead {
		return
	}
	w.Write(b.b) //nolint:errcheck // the client went away; nothing to do
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address (loopback only)")
	flag.Parse()

	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatalf("upstream: bad -addr %q: %v", *addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		log.Fatalf("upstream: -addr %q: benchmarks listen on loopback only", *addr)
	}

	s := &server{small: newBody(smallBody), cache: make(map[int]*body)}
	s.records(10)
	s.records(1000)

	srv := &http.Server{
		Addr:              *addr,
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	log.Printf("upstream: listening on %s", *addr)
	log.Fatal(srv.ListenAndServe())
}
