// Package acme will hold gatehouse's TLS: automatic certificates through
// golang.org/x/crypto/acme/autocert (HTTP-01 and TLS-ALPN-01) for exactly
// the configured domains, static certificates, and the certificate cache.
// It is empty until the automatic-HTTPS issue lands; the tls block is
// refused by the config parser until then.
package acme
