package modelstack

import (
	"context"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/budget"
	"github.com/newsroom-dev/newsroom/model/cache"
	"github.com/newsroom-dev/newsroom/model/cache/memory"
	"github.com/newsroom-dev/newsroom/model/provider"
	"github.com/newsroom-dev/newsroom/model/ratelimit"
	"github.com/newsroom-dev/newsroom/model/retry"
	"github.com/newsroom-dev/newsroom/team"
)

const composeTask = "Facts: The city council approved a new bike lane on Main Street on Tuesday. Construction starts in March and costs 2.1 million dollars."

func startEmulator(t *testing.T, cfg emulator.Config) *emulator.Running {
	t.Helper()
	em, err := emulator.Start(cfg, emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	return em
}

func composeOver(t *testing.T, em *emulator.Running, mod func(*layers)) *composed {
	t.Helper()
	lim := ratelimit.NewLimiter(ratelimit.LimiterConfig{})
	prov, err := provider.New(provider.Config{Kind: "azure", Endpoint: em.URL, Deployment: "gpt-5", APIKey: "test-key",
		DeploymentModel: emulator.DefaultModelName, OnRateLimitHeaders: lim.Observe})
	if err != nil {
		t.Fatal(err)
	}
	cfg := layers{Provider: prov, Deployment: "gpt-5", ModelName: emulator.DefaultModelName, Limiter: lim,
		Retry: retry.Config{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}}
	if mod != nil {
		mod(&cfg)
	}
	return compose(cfg)
}

func runDesk(t *testing.T, c model.Client, kind string, ctx context.Context) *team.Result {
	t.Helper()
	tm, err := desk.New(desk.Config{Team: kind, Client: c})
	if err != nil {
		t.Fatal(err)
	}
	res, err := team.Run(ctx, tm, composeTask, team.WithStreaming(true))
	if err != nil {
		t.Fatalf("run failed: %v", err)
	}
	return res
}

func TestCompose_BothTeamsFinishAgainstTheEmulatorWithCost(t *testing.T) {
	em := startEmulator(t, emulator.Config{APIKey: "test-key"})
	p := composeOver(t, em, nil)
	rr := runDesk(t, p.Client, desk.RoundRobin, context.Background())
	if len(rr.Messages) != 4 || rr.StopReason != "verdict APPROVE from News_Editor" {
		t.Fatalf("roundrobin: %d messages, stop %q", len(rr.Messages), rr.StopReason)
	}
	if rr.Usage.CostUSD <= 0 {
		t.Fatalf("roundrobin cost %v, want > 0 for gpt-5", rr.Usage.CostUSD)
	}
	if rr.Usage.ReasoningTokens <= 0 || rr.Usage.ReasoningTokens >= rr.Usage.CompletionTokens {
		t.Fatalf("usage %+v: want reasoning tokens, a part of the completion tokens", rr.Usage)
	}
	// Reasoning tokens are completion tokens: priced as output.
	price, _, _ := p.Prices.Lookup(emulator.DefaultModelName)
	want := price.Cost(rr.Usage)
	if d := rr.Usage.CostUSD - want; d > 1e-6 || d < -1e-6 {
		t.Fatalf("cost %v, want %v from the price table", rr.Usage.CostUSD, want)
	}
	sel := runDesk(t, p.Client, desk.Selector, context.Background())
	if sel.StopReason != `verdict TERMINATE from PlanningAgent` {
		t.Fatalf("selector stop %q after %d messages", sel.StopReason, len(sel.Messages))
	}
	if sel.PerAgent[team.SelectorSource].Requests == 0 || sel.PerAgent[team.SelectorSource].CostUSD <= 0 {
		t.Fatalf("selector calls missing from usage: %+v", sel.PerAgent)
	}
	art := desk.ArticleOf(sel.Messages)
	if len(art.Headlines) != 3 || art.Body == "" {
		t.Fatalf("selector article: %+v", art)
	}
}

func TestCompose_ARunUnderA429StormCompletes(t *testing.T) {
	em := startEmulator(t, emulator.Config{Faults: emulator.Faults{Rates: map[emulator.Fault]float64{
		emulator.Fault429: 0.3, emulator.Fault503: 0.1, emulator.FaultCut: 0.1}}, Seed: 7})
	p := composeOver(t, em, func(c *layers) {
		c.Limiter = ratelimit.NewLimiter(ratelimit.LimiterConfig{DefaultPause: time.Millisecond})
		c.Retry.MaxAttempts = 10
	})
	res := runDesk(t, p.Client, desk.Selector, context.Background())
	if len(res.Messages) < 5 {
		t.Fatalf("only %d messages", len(res.Messages))
	}
	var failed int
	for _, r := range em.Requests() {
		if r.Status != 200 {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("the storm injected no faults; the test proves nothing")
	}
}

func TestCompose_ARerunIsServedFromTheCacheForFree(t *testing.T) {
	em := startEmulator(t, emulator.Config{})
	store := memory.New(memory.Config{})
	p := composeOver(t, em, func(c *layers) { c.Cache = cache.Config{Store: store} })
	first := runDesk(t, p.Client, desk.RoundRobin, context.Background())
	calls := em.Count()
	second := runDesk(t, p.Client, desk.RoundRobin, context.Background())
	if em.Count() != calls {
		t.Fatalf("the rerun reached the service %d times", em.Count()-calls)
	}
	if second.Usage.TotalTokens() != 0 || second.Usage.CostUSD != 0 || second.Usage.CachedResponses != len(second.Messages) {
		t.Fatalf("rerun usage %+v, want 0 tokens, $0, all cached", second.Usage)
	}
	for i := range first.Messages {
		if first.Messages[i].Content != second.Messages[i].Content || !second.Messages[i].Cached {
			t.Fatalf("message %d differs or is not marked cached", i)
		}
	}
}

func TestCompose_BudgetStopsBeforeTheCrossingCall(t *testing.T) {
	em := startEmulator(t, emulator.Config{})
	p := composeOver(t, em, nil)
	tr := budget.NewTracker(budget.Run{MaxUSD: 0.015})
	ctx := budget.WithTracker(context.Background(), tr)
	res := runDesk(t, p.Client, desk.RoundRobin, ctx)
	spent, _ := tr.Spent()
	if spent > 0.015 {
		t.Fatalf("spent $%v, over the $0.015 budget", spent)
	}
	if res.Usage.CostUSD > 0.015 || len(res.Messages) == 0 {
		t.Fatalf("usage %+v after %d messages", res.Usage, len(res.Messages))
	}
	if got := res.StopReason; len(got) < 7 || got[:7] != "budget:" {
		t.Fatalf("stop reason %q, want a budget stop", got)
	}
	// The spending the budget counted is the calls' reasoning included.
	if res.Usage.ReasoningTokens <= 0 || spent != res.Usage.CostUSD && spent-res.Usage.CostUSD > 1e-9 {
		t.Fatalf("usage %+v, budget spent $%v: want reasoning tokens counted and priced", res.Usage, spent)
	}
	if em.Count() != res.Usage.Requests {
		t.Fatalf("service saw %d calls, run counted %d: a refused call must not be sent", em.Count(), res.Usage.Requests)
	}
}

func TestCompose_ACachedAnswerIsNeverRefusedByTheBudget(t *testing.T) {
	em := startEmulator(t, emulator.Config{})
	p := composeOver(t, em, func(c *layers) { c.Cache = cache.Config{Store: memory.New(memory.Config{})} })
	full := runDesk(t, p.Client, desk.RoundRobin, context.Background())
	// A budget far below any real call: only the cache can answer.
	ctx := budget.WithTracker(context.Background(), budget.NewTracker(budget.Run{MaxUSD: 0.000001}))
	again := runDesk(t, p.Client, desk.RoundRobin, ctx)
	if again.StopReason != full.StopReason || len(again.Messages) != len(full.Messages) {
		t.Fatalf("cached rerun stopped early: %q after %d messages", again.StopReason, len(again.Messages))
	}
}
