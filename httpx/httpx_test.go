package httpx

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewTransport_Defaults(t *testing.T) {
	tr := NewTransport(Options{})
	tests := []struct {
		name      string
		got, want any
	}{
		{"idle conns per host sized for concurrent runs", tr.MaxIdleConnsPerHost, DefaultMaxIdleConnsPerHost},
		{"idle conns", tr.MaxIdleConns, DefaultMaxIdleConns},
		{"idle timeout", tr.IdleConnTimeout, DefaultIdleConnTimeout},
		{"tls handshake timeout", tr.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout},
		{"response header timeout", tr.ResponseHeaderTimeout, DefaultResponseHeaderTimeout},
		{"expect continue timeout", tr.ExpectContinueTimeout, DefaultExpectContinueTimeout},
		{"http2 attempted", tr.ForceAttemptHTTP2, true},
		{"system roots (no custom TLS config)", tr.TLSClientConfig == nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

func TestNewTransport_Overrides(t *testing.T) {
	tr := NewTransport(Options{MaxIdleConnsPerHost: 7, ResponseHeaderTimeout: time.Second, DisableHTTP2: true})
	if tr.MaxIdleConnsPerHost != 7 || tr.ResponseHeaderTimeout != time.Second || tr.ForceAttemptHTTP2 {
		t.Fatalf("overrides not applied: %d %v %v", tr.MaxIdleConnsPerHost, tr.ResponseHeaderTimeout, tr.ForceAttemptHTTP2)
	}
}

func TestNewClient_NoClientTimeout(t *testing.T) {
	if c := NewClient(Options{}); c.Timeout != 0 {
		t.Fatalf("http.Client.Timeout = %v, want 0 (it would cut long streams)", c.Timeout)
	}
}

func TestNewClient_ReusesConnections(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	c := NewClient(Options{})
	for range 5 {
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 5 sequential requests, want 1 (keep-alive)", n)
	}
}

func TestNewClient_ResponseHeaderTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	c := NewClient(Options{ResponseHeaderTimeout: 50 * time.Millisecond})
	_, err := c.Get(srv.URL)
	if err == nil {
		t.Fatal("a server that never answers must fail the request")
	}
}

func TestWithTimeout(t *testing.T) {
	t.Run("zero adds no deadline", func(t *testing.T) {
		ctx, cancel := WithTimeout(context.Background(), 0)
		defer cancel()
		if _, ok := ctx.Deadline(); ok {
			t.Fatal("unexpected deadline")
		}
	})
	t.Run("positive sets a deadline that ends the call", func(t *testing.T) {
		ctx, cancel := WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		<-ctx.Done()
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("err = %v", ctx.Err())
		}
	})
}
