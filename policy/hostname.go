package policy

import (
	"net"
	"net/netip"
	"strings"
)

// HostName returns the host name of a Host header (or HTTP/2 :authority)
// value, without port, IPv6 brackets or trailing dot, in lower case
// (FoldHostName); false when there is none. A value SplitHostPort refuses
// and that is not a bracketed IPv6 address is folded as it is, so the
// caller's comparison with a configured name fails.
func HostName(hostport string) (string, bool) {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	} else if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	h = FoldHostName(h)
	return h, h != ""
}

// FoldHostName folds a host name for comparison: lower case, without a
// trailing dot. (Header names fold otherwise: see HeaderFold.)
func FoldHostName(s string) string {
	return strings.TrimSuffix(strings.ToLower(s), ".")
}

// ClientPrefix is the prefix a client's budgets and used values are
// counted under: its address, or its /64 for IPv6 (one subscriber's usual
// allocation, which it can spread its requests over). An invalid address
// gives the zero Prefix: one unknown client.
func ClientPrefix(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	bits := 32
	if a.Is6() && !a.Is4In6() {
		bits = 64
	}
	p, _ := a.Unmap().Prefix(bits)
	return p
}
