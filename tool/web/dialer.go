package web

import (
	"context"
	"net"
	"time"
)

// Dialer returns a DialContext that applies the guard to every connection,
// for other clients that must not reach internal addresses (webhook
// deliveries); timeout bounds each dial.
func (g *Guard) Dialer(timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return g.dialer(timeout, nil) // the system resolver
}
