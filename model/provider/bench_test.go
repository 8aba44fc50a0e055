package provider

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/newsroom-dev/newsroom/model"
)

// BenchmarkClient_Complete measures the client's own cost per call (request
// building, the HTTP pipeline, JSON, response mapping) against a loopback server that
// answers at once.
func BenchmarkClient_Complete(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		okJSON(w, r)
	}))
	defer srv.Close()
	c, err := New(Config{Endpoint: srv.URL, Deployment: "dep", APIKey: "k"})
	if err != nil {
		b.Fatal(err)
	}
	req := fullRequest()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Complete(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClient_CompleteStreaming is the same for a five-chunk stream.
func BenchmarkClient_CompleteStreaming(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		sse(w, chunkRole, chunkHello, chunkWorld, chunkFinish, chunkUsage, "[DONE]")
	}))
	defer srv.Close()
	c, err := New(Config{Endpoint: srv.URL, Deployment: "dep", APIKey: "k"})
	if err != nil {
		b.Fatal(err)
	}
	req := fullRequest()
	req.OnDelta = func(model.Delta) {}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Complete(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
