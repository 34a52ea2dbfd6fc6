package proxy

import (
	"fmt"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// reasonMisdirected is the reason of a 421: the request names a host this
// TLS listener does not serve, or another host than the one its connection
// was opened for.
const reasonMisdirected = "misdirected_request"

// servedName is the first stage on the TLS listener (it is in the
// pipeline only when Options.ServedHost is set). A request that arrived
// over TLS must name, in Host (HTTP/1.1) or :authority (HTTP/2), a host
// the listener serves (ServedHost: an ACME domain, a name the static
// certificate covers) and, when the client sent a server name (SNI) in
// its handshake, that very name. Anything else gets 421 Misdirected
// Request and reaches no upstream (RFC 9110 §15.5.20: the client may
// retry on another connection). This is what stops HTTP/2 connection
// coalescing, or a client that sends one name in SNI and another in Host,
// from using a connection opened for one name to reach another.
//
// Names are compared without case, port, IPv6 brackets or trailing dot. A
// connection without SNI (a client that connected by IP address: TLS
// clients send no SNI for one) is held to the served names alone.
type servedName struct{}

func (servedName) serve(x *transaction) error {
	if x.r.TLS == nil {
		return nil
	}
	return misdirected(x.r.Host, x.r.TLS.ServerName, x.srv.served)
}

// misdirected returns a 421 refusal when host (a Host header value) is not
// served or differs from sni (the connection's server name, "" for none).
func misdirected(host, sni string, served func(string) bool) error {
	h, ok := policy.HostName(host)
	if !ok || !served(h) {
		return refuse(http.StatusMisdirectedRequest, reasonMisdirected, fmt.Errorf("host %q is not served on this listener", host))
	}
	if sni != "" && policy.FoldHostName(sni) != h {
		return refuse(http.StatusMisdirectedRequest, reasonMisdirected, fmt.Errorf("host %q on a connection for %q", host, sni))
	}
	return nil
}

var _ stage = servedName{}
