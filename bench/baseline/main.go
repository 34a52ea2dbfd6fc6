// Command baseline is the thinnest fair reverse proxy written with the Go
// standard library: what gatehouse would cost if it did nothing but forward.
// bench/run.sh compares gatehouse against it to isolate the price of
// canonicalization, routing, authentication, authorization and logging from
// the price of httputil.ReverseProxy itself.
//
// "Fair" means it gets the same forwarding machinery gatehouse uses and
// nothing less: Rewrite with SetURL and SetXForwarded (what
// NewSingleHostReverseProxy does, minus the legacy Director), a pooled copy
// buffer, and an upstream connection pool of the same size.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// copyBufferSize matches httputil.ReverseProxy's own default buffer size.
const copyBufferSize = 32 << 10

// maxIdleConnsPerHost is the upstream keep-alive pool size. Fairness means
// the same pool size as gatehouse's forwarder (1024 idle connections per
// upstream host); http.DefaultTransport keeps only 2 per host, which would
// make every proxy under load churn connections and measure dialing instead
// of proxying.
const maxIdleConnsPerHost = 1024

// bufferPool is an httputil.BufferPool backed by sync.Pool. Without it
// ReverseProxy allocates a fresh 32 KiB buffer for every response body,
// which costs about a third of the throughput on small responses.
type bufferPool struct{ p sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any {
		b := make([]byte, copyBufferSize)
		return &b
	}}}
}

func (bp *bufferPool) Get() []byte { return *bp.p.Get().(*[]byte) }

func (bp *bufferPool) Put(b []byte) {
	if cap(b) < copyBufferSize {
		return
	}
	b = b[:copyBufferSize]
	bp.p.Put(&b)
}

var _ httputil.BufferPool = (*bufferPool)(nil)

func newProxy(target *url.URL) *httputil.ReverseProxy {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = maxIdleConnsPerHost
	// The default total (100) would cap the per-host pool; keep them equal.
	tr.MaxIdleConns = maxIdleConnsPerHost
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport:  tr,
		BufferPool: newBufferPool(),
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:9001", "listen address (loopback only)")
	upstream := flag.String("upstream", "http://127.0.0.1:9000", "upstream base URL")
	flag.Parse()

	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		log.Fatalf("baseline: bad -listen %q: %v", *listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		log.Fatalf("baseline: -listen %q: benchmarks listen on loopback only", *listen)
	}
	target, err := url.Parse(*upstream)
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		log.Fatalf("baseline: bad -upstream %q", *upstream)
	}

	srv := &http.Server{
		Addr:    *listen,
		Handler: newProxy(target),
		// The same server timeouts as gatehouse's defaults: each costs a
		// deadline update per request, and a proxy without them is not one
		// anybody should run.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	log.Printf("baseline: listening on %s, forwarding to %s", *listen, target)
	log.Fatal(srv.ListenAndServe())
}
