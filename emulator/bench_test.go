package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"
)

func benchBody(b *testing.B, stream bool) []byte {
	body, err := json.Marshal(chatBody([]msg{
		{Role: "system", Content: "You are News_Reporter, a reporter in a newsroom."},
		{Role: "user", Name: "user", Content: testTask},
	}, map[string]any{"stream": stream, "stream_options": map[string]any{"include_usage": stream}}))
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// BenchmarkServer_handler measures the emulator's own cost per request,
// without the network.
func BenchmarkServer_handler(b *testing.B) {
	for _, stream := range []bool{false, true} {
		name := "json"
		if stream {
			name = "stream"
		}
		b.Run(name, func(b *testing.B) {
			s := New(Config{MaxRecorded: -1})
			body := benchBody(b, stream)
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("POST", azurePath, bytes.NewReader(body))
				w := httptest.NewRecorder()
				s.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}

// BenchmarkServer_concurrentStreams runs 1,000 streams at once over
// loopback, each paced by the latency model, and reports the heap and
// goroutines while they are in flight.
func BenchmarkServer_concurrentStreams(b *testing.B) {
	const streams = 1000
	r := mustStart(b, Config{MaxRecorded: -1, Latency: Latency{TimeToFirstToken: 200 * time.Millisecond, TokensPerSecond: 200}}, Options{})
	body := benchBody(b, true)
	tr := &http.Transport{MaxIdleConnsPerHost: streams, MaxConnsPerHost: 0}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var peakHeap uint64
	var peakG int
	for b.Loop() {
		var wg sync.WaitGroup
		var failed sync.Map
		for range streams {
			wg.Go(func() {
				resp, err := client.Post(r.URL+azurePath, "application/json", bytes.NewReader(body))
				if err != nil {
					failed.Store(err.Error(), true)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			})
		}
		time.Sleep(300 * time.Millisecond) // all streams are mid-flight now
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peakHeap = max(peakHeap, ms.HeapInuse)
		peakG = max(peakG, runtime.NumGoroutine())
		wg.Wait()
		failed.Range(func(k, _ any) bool { b.Fatalf("stream failed: %v", k); return false })
	}
	b.ReportMetric(float64(peakHeap)/(1<<20), "heap-MB")
	b.ReportMetric(float64(peakG), "goroutines")
}
