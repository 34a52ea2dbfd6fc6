package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// Ports a test names before the server behind them starts (a redirect
// URL in a config, a child process's -port) are picked below the kernel's
// ephemeral range. A port found by listening on :0 and closing is an
// ephemeral one: the next listener on :0 or the next outgoing connection
// of any process may be given it before the server binds, and on a busy
// machine that happens (a CI run lost gatehouse's port that way). Below
// the range only another explicit pick can take it, and picks are random
// over thousands of ports.
const (
	pickLow      = 20000 // the bench harness uses 19300-19499
	pickMinRange = 1000  // fewer ports than this: fall back to :0
	pickTries    = 200
)

// ListenFree listens on a loopback port outside the ephemeral range that
// nothing listened on a moment ago.
func ListenFree() (net.Listener, error) {
	lo, hi := pickRange()
	if hi-lo < pickMinRange {
		return net.Listen("tcp", "127.0.0.1:0")
	}
	var err error
	for range pickTries {
		var l net.Listener
		l, err = net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(lo+rand.IntN(hi-lo)))
		if err == nil {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no free port in %d-%d after %d tries: %w", lo, hi-1, pickTries, err)
}

// FreePorts returns n distinct loopback ports, outside the ephemeral
// range, that were free a moment ago.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := ListenFree()
		if err != nil {
			return nil, err
		}
		defer l.Close() // held until all are picked, so they are distinct
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// pickRange is [pickLow, first ephemeral port): Linux's
// ip_local_port_range, or its default when that cannot be read.
func pickRange() (lo, hi int) {
	hi = 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				hi = n
			}
		}
	}
	return pickLow, hi
}
