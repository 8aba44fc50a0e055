package cache_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/emutest"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/cache"
	"github.com/newsroom-dev/newsroom/model/cache/sqlite"
	"github.com/newsroom-dev/newsroom/model/cost"
)

// TestIntegration_RerunCostsNothing runs a call through the provider against
// the emulator with the cost and cache middleware, then reruns it as a new
// process would (a new Store on the same SQLite file), streaming: the rerun
// must not reach the emulator, cost $0 and replay the same text.
func TestIntegration_RerunCostsNothing(t *testing.T) {
	run, p := emutest.Start(t, emulator.Config{ModelName: "gpt-4o-2024-11-20", Seed: 7}, "newsroom-chat", nil)
	path := filepath.Join(t.TempDir(), "cache.db")
	process := func() model.Client {
		s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		// The production order (package modelstack): the cache above the cost
		// middleware, so an entry keeps the price of its original call.
		return model.Chain(p,
			cache.New(cache.Config{Store: s, Namespace: run.URL + "|newsroom-chat"}),
			cost.New(cost.Config{Model: "gpt-4o"}))
	}
	req := func() *model.Request {
		return &model.Request{Messages: []model.Message{
			{Role: model.RoleSystem, Content: "You are a reporter."},
			{Role: model.RoleUser, Content: "Write two sentences about the harbour fire."},
		}, MaxTokens: 200}
	}

	cold, err := process().Complete(t.Context(), req())
	if err != nil {
		t.Fatal(err)
	}
	if cold.Cached || cold.Usage.CostUSD <= 0 || cold.Usage.TotalTokens() == 0 {
		t.Fatalf("cold run: %+v, want a paid, uncached answer", cold)
	}
	if cold.FinishReason != "stop" && cold.FinishReason != "length" {
		t.Fatalf("cold run finished with %q: it would not be cached", cold.FinishReason)
	}
	sent := run.Count()
	if sent == 0 {
		t.Fatal("the emulator counted no request for the cold run")
	}

	var streamed strings.Builder
	var pieces int
	r := req()
	r.OnDelta = func(d model.Delta) {
		if !d.Cached {
			t.Errorf("delta %q not marked cached", d.Text)
		}
		pieces++
		streamed.WriteString(d.Text)
	}
	warm, err := process().Complete(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	if run.Count() != sent {
		t.Errorf("the rerun reached the emulator (%d requests, want %d)", run.Count(), sent)
	}
	// A hit costs nothing and reports what the original call used as saved.
	want := model.Usage{Requests: 1, CachedResponses: 1, SavedTokens: cold.Usage.TotalTokens(), SavedUSD: cold.Usage.CostUSD}
	if !warm.Cached || warm.Usage != want {
		t.Errorf("rerun usage %+v, Cached %v; want %+v, true", warm.Usage, warm.Cached, want)
	}
	if warm.Content != cold.Content || streamed.String() != cold.Content || pieces < 2 {
		t.Errorf("rerun replayed %q in %d pieces, want %q in token pieces", streamed.String(), pieces, cold.Content)
	}
}
