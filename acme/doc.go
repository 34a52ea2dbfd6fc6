// Package acme is gatehouse's HTTPS: certificates for the TLS listener and
// the handler of the plain-HTTP listener.
//
// A [Manager] is built from a settings.TLS in one of two modes:
//
//   - ACME: certificates are obtained and renewed automatically through
//     golang.org/x/crypto/acme/autocert, answering TLS-ALPN-01 challenges on
//     the TLS listener and HTTP-01 challenges on the HTTP listener. A
//     certificate is only ever requested for one of the configured domains:
//     a handshake for any other name, without SNI, or with an IP address
//     fails at once and never starts an ACME order (that would let anyone
//     burn the CA's rate limits). The account key and certificates live in
//     a cache directory (0700, files 0600), in a subdirectory per ACME
//     directory URL so that staging and production certificates never mix
//     (or in the store.Certificates of [Options], under a prefix per
//     directory URL). The first order and every renewal of a name happen
//     under a lock of the store.Locker of [Options] (a lock within the
//     process by default): instances sharing a store order a name once,
//     the others wait and load it, and any of them answers a challenge,
//     whose tokens autocert keeps in the store too.
//     Every stored certificate is logged (obtained or renewed, with names
//     and expiry), and so is a certificate that is close to expiry without
//     having been renewed.
//   - Static: a certificate chain and key from PEM files, re-read by
//     [Manager.ReloadCertificate] (gatehouse calls it when the files change
//     and on every config reload). A pair that fails to load is logged and
//     the previous certificate keeps serving.
//
// [NewListener] completes TLS handshakes (TLS 1.2 or later, HTTP/2 and
// HTTP/1.1 through ALPN) before handing connections to net/http, so that
// HTTP/1 connections can be wrapped (gatehouse's request-framing check)
// while net/http still sees the TLS state. [HSTS] adds the
// Strict-Transport-Security header to HTTPS responses, and
// [Manager.HTTPHandler] serves the HTTP listener: ACME HTTP-01 challenges
// and a 308 redirect to HTTPS for configured names, nothing else; its
// error answers go through the caller's [ErrorWriter] (gatehouse's generic
// JSON errors), never autocert's text.
package acme
