// Package dnstest is a DNS server for tests: on loopback UDP, it answers
// every query "no such name" (NXDOMAIN), as a real resolver does for a name
// that does not exist.
package dnstest

import (
	"context"
	"net"
	"testing"
)

// NXDomain starts the server and returns a resolver that asks it in place
// of the server the system's configuration names: its errors name that
// configured server, as a service's resolver's do. It stops with t.
func NXDomain(t testing.TB) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go serve(pc)
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

// serve answers each query with its header and question, flagged as a
// response with RCODE 3 (NXDOMAIN) and no records.
func serve(pc net.PacketConn) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		q := buf[:n]
		end := 12 // the question: a name of labels, then type and class
		for end < n && q[end] != 0 {
			end += int(q[end]) + 1
		}
		end += 5
		if n < 12 || end > n {
			continue
		}
		resp := append([]byte{}, q[:end]...)
		resp[2] = 0x80 | q[2]&0x79 // a response, the query's opcode and RD
		resp[3] = 0x80 | 3         // RA, NXDOMAIN
		clear(resp[6:12])          // no answer, authority or additional records
		_, _ = pc.WriteTo(resp, from)
	}
}
