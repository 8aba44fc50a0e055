package web

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// EnvAllow is the environment variable with the allow list (see ParseAllow).
const EnvAllow = "NEWSROOM_FETCH_ALLOW"

// RefusedError is returned for a destination the guard refuses.
type RefusedError struct {
	// Host is the host the URL named; Address the address that was to be dialled.
	Host    string
	Address string
	Reason  string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("web: refused to connect to %s (%s): %s", e.Host, e.Address, e.Reason)
}

// ErrRefused is matched by every *RefusedError (errors.Is).
var ErrRefused = errors.New("web: destination refused")

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// Guard decides which addresses the tools may connect to. It checks the
// address actually dialled (net.Dialer's Control hook, after name
// resolution, on every connection including each redirect hop), so a name
// that resolves to a private address, or whose answer changes between a
// look-up and the connection, cannot slip through.
//
// Refused: loopback, private (RFC 1918), carrier-grade NAT, link-local
// (including the cloud metadata address 169.254.169.254), unique-local
// (fc00::/7), multicast, unspecified and other non-global addresses, and
// every port but 80 and 443. An allow-list entry lets a destination through:
// "host" (any address, ports 80 and 443) or "host:port" (that port).
type Guard struct {
	hosts    map[string]bool // host -> allowed on 80/443
	ports    map[string]bool // host:port -> allowed
	anyPorts map[int]bool    // more ports allowed to public addresses
}

// NewGuard returns a guard with the given allow list (see ParseAllow).
// extraPorts are allowed besides 80 and 443, for public addresses only.
func NewGuard(allow []string, extraPorts ...int) *Guard {
	g := &Guard{hosts: map[string]bool{}, ports: map[string]bool{}, anyPorts: map[int]bool{}}
	for _, p := range extraPorts {
		g.anyPorts[p] = true
	}
	for _, a := range allow {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "" {
			continue
		}
		if h, p, err := net.SplitHostPort(a); err == nil {
			g.ports[net.JoinHostPort(h, p)] = true
			continue
		}
		g.hosts[strings.Trim(a, "[]")] = true
	}
	return g
}

// ParseAllow splits a comma-separated allow list ("intranet.example,127.0.0.2:8443").
func ParseAllow(list string) []string {
	var out []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// dialer returns a DialContext that applies the guard, resolving names
// with resolver (nil: the system's).
func (g *Guard) dialer(timeout time.Duration, resolver *net.Resolver) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		host = strings.ToLower(host)
		hostOK := g.hosts[host] && (port == "80" || port == "443")
		portOK := g.ports[net.JoinHostPort(host, port)]
		d := &net.Dialer{Timeout: timeout, Resolver: resolver, Control: func(_, address string, _ syscall.RawConn) error {
			if hostOK || portOK {
				return nil
			}
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return &RefusedError{Host: host, Address: address, Reason: "not an IP address"}
			}
			ip := ap.Addr().Unmap()
			if g.ports[net.JoinHostPort(ip.String(), port)] || (g.hosts[ip.String()] && (port == "80" || port == "443")) {
				return nil
			}
			if p := ap.Port(); p != 80 && p != 443 && !g.anyPorts[int(p)] {
				return &RefusedError{Host: host, Address: address, Reason: "only ports 80 and 443 are allowed"}
			}
			if reason := refusedIP(ip); reason != "" {
				return &RefusedError{Host: host, Address: address, Reason: reason}
			}
			return nil
		}}
		return d.DialContext(ctx, network, addr)
	}
}

var (
	cgnat     = netip.MustParsePrefix("100.64.0.0/10")
	benchmark = netip.MustParsePrefix("198.18.0.0/15")
	thisNet   = netip.MustParsePrefix("0.0.0.0/8")
	reserved  = netip.MustParsePrefix("240.0.0.0/4")
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	docs4     = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("192.0.0.0/24")}
)

// refusedIP says why an address is not public, or "".
func refusedIP(ip netip.Addr) string {
	switch {
	case ip.IsLoopback():
		return "loopback address"
	case ip.IsUnspecified():
		return "unspecified address"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "link-local address (includes the cloud metadata service)"
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast address"
	case ip.IsPrivate():
		if ip.Is6() {
			return "unique-local address"
		}
		return "private address"
	case cgnat.Contains(ip), benchmark.Contains(ip), thisNet.Contains(ip), reserved.Contains(ip), ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "reserved address"
	case nat64.Contains(ip):
		// An embedded IPv4 address could be anything; refuse rather than decode.
		return "NAT64 address"
	}
	for _, p := range docs4 {
		if p.Contains(ip) {
			return "reserved address"
		}
	}
	if !ip.IsGlobalUnicast() {
		return "not a global unicast address"
	}
	return ""
}
