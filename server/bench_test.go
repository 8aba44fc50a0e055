package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkServer_CreateRun measures POST /v1/runs (auth, validation, the
// SQLite insert) with the workers stopped, so only the API is measured.
func BenchmarkServer_CreateRun(b *testing.B) {
	e := newEnv(b, envOpts{noStart: true, cfg: Config{QueueSize: 1 << 30, KeyRateLimit: -1}})
	client := e.ts.Client()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		req, _ := http.NewRequest("POST", e.ts.URL+"/v1/runs", strings.NewReader(task))
		req.Header.Set("Authorization", "Bearer "+e.user)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != http.StatusAccepted {
			b.Fatalf("POST = %v %v", resp, err)
		}
		resp.Body.Close()
	}
}

// BenchmarkServer_ReplayEvents measures replaying a finished selector run's
// event stream over SSE.
func BenchmarkServer_ReplayEvents(b *testing.B) {
	e := newEnv(b, envOpts{cfg: Config{KeyRateLimit: -1}})
	v := e.create(e.user, `{"task":"Harbour reopens after storm repairs. Ferries resume Monday.","team":"selector"}`)
	e.waitFinished(e.user, v.ID)
	n := len(e.events(context.Background(), e.user, v.ID, ""))
	b.ReportMetric(float64(n), "events/run")
	b.ResetTimer()
	for b.Loop() {
		if got := len(e.events(context.Background(), e.user, v.ID, "")); got != n {
			b.Fatalf("replayed %d events, want %d", got, n)
		}
	}
}

// BenchmarkServer_RunEndToEnd measures a whole round-robin run against the
// emulator: submit, execute with a checkpoint per event, stream to the end.
func BenchmarkServer_RunEndToEnd(b *testing.B) {
	e := newEnv(b, envOpts{cfg: Config{KeyRateLimit: -1, QueueSize: 1 << 20}})
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		v := e.create(e.user, `{"task":"Bakery number `+strconv.Itoa(i)+` wins regional prize."}`)
		if got := e.waitFinished(e.user, v.ID); got.Status != "succeeded" {
			b.Fatalf("run %s: %s", v.ID, got.Status)
		}
	}
}
