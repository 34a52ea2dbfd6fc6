// Package upstream carries requests from gatehouse to its upstreams: one
// pooled http.RoundTripper per upstream (Pool, by Key) whose keep-alive
// connections outlive configuration reloads.
//
// What it owns:
//   - Pool: the transports, created on first use, kept across reloads for
//     the upstreams a reload keeps, closed (Retire) for the others.
//   - HTTP1Transport (h1transport.go, h1write.go): the HTTP/1 fast path for
//     GET, HEAD and OPTIONS without a body to plain-HTTP upstreams, on the
//     calling goroutine, with the safety checks http.Transport makes and a
//     few of its own (no reuse after bodiless responses, idle connections
//     that received bytes are retired).
//   - The fallback: an http.Transport, for everything else (bodies,
//     upgrades, HTTPS upstreams, systems without FastPathSupported).
//   - The watchdog (watchdog.go): upstream timeouts on the connections
//     themselves, and watchedConn's rules for 1xx (at most
//     MaxInformational, then ErrTooManyInformational) and for responses
//     that have no body, on both transports alike.
//
// A request that timed out fails with an error that is a net.Error whose
// Timeout is true; callers classify errors with errors.As and errors.Is,
// never by their text.
//
// # gatehouse's own header fields travel beside the request
//
// The fields gatehouse sets itself (X-Forwarded-*, identity headers, header
// templates, X-Request-Id) reach a transport through RoundTripWithFields,
// not in the request's Header. A FieldsRoundTripper (HTTP1Transport)
// writes them after the request's own fields; any other RoundTripper gets
// them set in the request's Header first, so every upstream receives the
// same fields whichever transport carries them.
//
// Why a second channel and not the one header map: ReverseProxy sizes the
// outbound map for the client's fields. Adding gatehouse's takes a typical
// API-key request from 7 to 9 entries, past the 8 of a small Go map, and
// every later step (validation, writing, the map's own lookups and
// iteration) then works on a hash table: about 11,000 instructions per
// request on the API-key route under callgrind, some 7% of the request,
// far above the 1% that would justify one map (docs/benchmarks.md,
// "gatehouse's own headers beside the client's", session 16).
package upstream
