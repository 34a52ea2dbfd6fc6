package proxy

import "testing"

func BenchmarkFraming(b *testing.B) {
	req := []byte("GET /api/small HTTP/1.1\r\nHost: 127.0.0.1:9004\r\nX-API-Key: gatehouse-bench-key-0001-not-a-secret\r\n\r\n")
	c := &framingConn{}
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	for b.Loop() {
		c.follow(req)
	}
}
