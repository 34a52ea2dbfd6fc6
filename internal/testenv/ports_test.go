package testenv

import (
	"net"
	"strconv"
	"testing"
)

func TestFreePortsOutsideEphemeralRange(t *testing.T) {
	lo, hi := pickRange()
	inRange := hi-lo >= pickMinRange // else FreePorts falls back to :0
	ports, err := FreePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if inRange && (p < lo || p >= hi) {
			t.Errorf("port %d outside [%d, %d)", p, lo, hi)
		}
		if seen[p] {
			t.Errorf("port %d returned twice", p)
		}
		seen[p] = true
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Errorf("port %d not free after FreePorts returned: %v", p, err)
			continue
		}
		l.Close()
	}
}
