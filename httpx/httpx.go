// Package httpx builds the one tuned HTTP transport newsroom shares between
// every model client, agent and concurrent run in a process.
//
// Connection reuse matters more than anything else for a chatty multi-agent
// workload: every agent turn is a POST to the same host, so the idle pool is
// sized for many concurrent runs against one endpoint.
//
// The transport bounds connecting (dial, TLS handshake) and waiting for
// response headers, but never the whole exchange: a streamed answer may
// legitimately take minutes. The overall deadline of a call belongs in its
// context (context.WithTimeout), not in http.Client.Timeout, which would cut
// long streams mid-way and cannot be chosen per call.
package httpx

import (
	"context"
	"net"
	"net/http"
	"time"
)

// Defaults used for the zero values of Options.
const (
	DefaultMaxIdleConns          = 512
	DefaultMaxIdleConnsPerHost   = 256
	DefaultIdleConnTimeout       = 90 * time.Second
	DefaultDialTimeout           = 10 * time.Second
	DefaultKeepAlive             = 30 * time.Second
	DefaultTLSHandshakeTimeout   = 10 * time.Second
	DefaultResponseHeaderTimeout = 5 * time.Minute
	DefaultExpectContinueTimeout = time.Second
	DefaultReadBufferSize        = 2 << 10
	DefaultWriteBufferSize       = 2 << 10
)

// Options tune the transport. The zero value of every field means the
// package default named after it.
type Options struct {
	// MaxIdleConns bounds idle connections over all hosts (default 512).
	MaxIdleConns int
	// MaxIdleConnsPerHost bounds idle connections to one host (default 256):
	// sized for hundreds of concurrent runs talking to one deployment, so a
	// finished call's connection is kept for the next turn instead of closed.
	MaxIdleConnsPerHost int
	// MaxConnsPerHost bounds all connections to one host; 0 means no limit.
	MaxConnsPerHost int
	// IdleConnTimeout closes connections idle this long (default 90s).
	IdleConnTimeout time.Duration
	// DialTimeout bounds establishing a TCP connection (default 10s).
	DialTimeout time.Duration
	// TLSHandshakeTimeout bounds the TLS handshake (default 10s).
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for response headers after the
	// request is written (default 5m). A non-streaming answer sends its
	// headers only when the whole completion is generated, which for a few
	// thousand tokens on a loaded deployment takes minutes; a server that
	// never answers must still not hang a run forever. It does not limit
	// reading the body, so long streams are unaffected.
	ResponseHeaderTimeout time.Duration
	// ExpectContinueTimeout is the wait for a 100 Continue (default 1s).
	ExpectContinueTimeout time.Duration
	// ReadBufferSize and WriteBufferSize are the per-connection buffers
	// (default 2 KB each, half of net/http's 4 KB): a streamed answer
	// arrives in chunks of a few hundred bytes and a request is written
	// once, while a process may hold a connection per concurrent run, so
	// smaller buffers cost a few more system calls on large requests and
	// save memory on every open connection.
	ReadBufferSize  int
	WriteBufferSize int
	// DisableHTTP2 turns off HTTP/2 negotiation (it is attempted by default).
	DisableHTTP2 bool
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxIdleConns, DefaultMaxIdleConns)
	def(&o.MaxIdleConnsPerHost, DefaultMaxIdleConnsPerHost)
	def(&o.ReadBufferSize, DefaultReadBufferSize)
	def(&o.WriteBufferSize, DefaultWriteBufferSize)
	defDur(&o.IdleConnTimeout, DefaultIdleConnTimeout)
	defDur(&o.DialTimeout, DefaultDialTimeout)
	defDur(&o.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout)
	defDur(&o.ResponseHeaderTimeout, DefaultResponseHeaderTimeout)
	defDur(&o.ExpectContinueTimeout, DefaultExpectContinueTimeout)
	return o
}

// NewTransport returns a tuned transport. Certificates are verified against
// the system roots (TLSClientConfig is left nil, so SSL_CERT_FILE and
// SSL_CERT_DIR work as usual); proxies come from the environment.
func NewTransport(opts Options) *http.Transport {
	o := opts.withDefaults()
	dialer := &net.Dialer{Timeout: o.DialTimeout, KeepAlive: DefaultKeepAlive}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     !o.DisableHTTP2,
		MaxIdleConns:          o.MaxIdleConns,
		MaxIdleConnsPerHost:   o.MaxIdleConnsPerHost,
		MaxConnsPerHost:       o.MaxConnsPerHost,
		IdleConnTimeout:       o.IdleConnTimeout,
		TLSHandshakeTimeout:   o.TLSHandshakeTimeout,
		ResponseHeaderTimeout: o.ResponseHeaderTimeout,
		ExpectContinueTimeout: o.ExpectContinueTimeout,
		ReadBufferSize:        o.ReadBufferSize,
		WriteBufferSize:       o.WriteBufferSize,
	}
}

// NewClient returns an http.Client over NewTransport(opts). Its Timeout is
// deliberately zero: bound each call with its context (see WithTimeout).
func NewClient(opts Options) *http.Client {
	return &http.Client{Transport: NewTransport(opts)}
}

// WithTimeout returns ctx bounded by d, the overall deadline of one call
// including a streamed body. d <= 0 means no additional bound. An earlier
// deadline already on ctx is kept.
func WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
