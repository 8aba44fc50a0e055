package budget_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/budget"
	"github.com/newsroom-dev/newsroom/model/cost"
	"github.com/newsroom-dev/newsroom/tokenizer"
)

// prices makes the arithmetic easy: prompts are free and every completion
// token costs $0.001.
var prices = cost.NewTable(map[string]cost.Price{"test-model": {Output: 1000}})

// scripted answers with the request's max_tokens of completion (or fewer
// when completion is set) and counts the calls that reach it.
type scripted struct {
	calls      atomic.Int32
	completion func(max int) int
}

func (s *scripted) Complete(_ context.Context, req *model.Request) (*model.Response, error) {
	s.calls.Add(1)
	n := req.MaxTokens
	if s.completion != nil {
		n = s.completion(n)
	}
	prompt := model.PromptTokens(tokenizer.MustForModel(req.Model).Count, req.Messages)
	return &model.Response{
		Model: req.Model, Content: "ok", FinishReason: "stop",
		Usage: model.Usage{PromptTokens: prompt, CompletionTokens: n, Requests: 1},
	}, nil
}

func request(maxTokens int) *model.Request {
	return &model.Request{
		Model:     "test-model",
		Messages:  []model.Message{{Role: model.RoleUser, Content: "Write the lede."}},
		MaxTokens: maxTokens,
	}
}

// callUntilStop calls c until it refuses, and returns the stop error.
func callUntilStop(t *testing.T, c model.Client, ctx context.Context, max int) error {
	t.Helper()
	for range 1000 {
		_, err := c.Complete(ctx, request(max))
		if err != nil {
			return err
		}
	}
	t.Fatal("never stopped")
	return nil
}

func TestClient_StopsBeforeTheCrossingCall(t *testing.T) {
	tests := []struct {
		name  string
		chain func(next model.Client, tr *budget.Tracker) model.Client
	}{
		{"priced by the cost middleware below", func(next model.Client, tr *budget.Tracker) model.Client {
			return model.Chain(next, budget.New(budget.Config{Tracker: tr, Prices: prices}), cost.New(cost.Config{Prices: prices}))
		}},
		{"priced by the budget itself", func(next model.Client, tr *budget.Tracker) model.Client {
			return budget.Wrap(next, budget.Config{Tracker: tr, Prices: prices})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &scripted{}
			tr := budget.NewTracker(budget.Run{MaxUSD: 0.035})
			c := tt.chain(next, tr)
			// Each call costs exactly its worst case, $0.01 (10 tokens at
			// $0.001): calls 1-3 bring the run to $0.03; a 4th could reach
			// $0.04 > $0.035, so it must be refused without reaching next.
			err := callUntilStop(t, c, context.Background(), 10)
			if n := next.calls.Load(); n != 3 {
				t.Errorf("%d calls reached the model, want 3", n)
			}
			reason, ok := model.AsStop(err)
			want := "budget: the next call could cost up to $0.01, which would cross the run budget of $0.035 ($0.03 spent)"
			if !ok || reason != want {
				t.Errorf("stop = %q, %v; want %q", reason, ok, want)
			}
			if !errors.Is(err, budget.ErrExceeded) {
				t.Errorf("err = %v, want it to wrap ErrExceeded", err)
			}
			if usd, _ := tr.Spent(); usd != 0.03 {
				t.Errorf("spent $%v, want $0.03", usd)
			}
		})
	}
}

func TestClient_NeverCrossesWithCheaperRealCalls(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var mu sync.Mutex
	next := &scripted{completion: func(max int) int { mu.Lock(); defer mu.Unlock(); return 1 + rng.IntN(max) }}
	tr := budget.NewTracker(budget.Run{MaxUSD: 0.5})
	c := budget.Wrap(next, budget.Config{Tracker: tr, Prices: prices})
	callUntilStop(t, c, context.Background(), 40)
	usd, _ := tr.Spent()
	if usd > 0.5 {
		t.Errorf("spent $%v, more than the $0.5 budget", usd)
	}
	if usd+0.04 <= 0.5 {
		t.Errorf("stopped at $%v although a $0.04 worst case still fitted", usd)
	}
}

func TestClient_TokenBudget(t *testing.T) {
	next := &scripted{}
	c := budget.Wrap(next, budget.Config{Tracker: budget.NewTracker(budget.Run{MaxTokens: 200}), Prices: prices})
	prompt := model.PromptTokens(tokenizer.MustForModel("test-model").Count, request(0).Messages)
	perCall := prompt + 30
	err := callUntilStop(t, c, context.Background(), 30)
	if want := int32(200 / perCall); next.calls.Load() != want {
		t.Errorf("%d calls reached the model, want %d (%d tokens each, 200 allowed)", next.calls.Load(), want, perCall)
	}
	if reason, ok := model.AsStop(err); !ok || reason == "" {
		t.Errorf("err = %v, want a stop", err)
	} else {
		t.Log(reason)
	}
}

func TestClient_CompletionCeiling(t *testing.T) {
	tests := []struct {
		name      string
		ceiling   int
		wantCalls int32
	}{
		{"no max_tokens counts 4096 by default", 0, 0},
		{"a configured ceiling replaces it", 100, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &scripted{completion: func(int) int { return 50 }}
			c := budget.Wrap(next, budget.Config{
				Tracker: budget.NewTracker(budget.Run{MaxTokens: 4000}), Prices: prices, CompletionCeiling: tt.ceiling,
			})
			_, err := c.Complete(context.Background(), request(0))
			if next.calls.Load() != tt.wantCalls {
				t.Errorf("%d calls, want %d (err %v)", next.calls.Load(), tt.wantCalls, err)
			}
		})
	}
}

func TestClient_ConcurrentCallsShareTheBudget(t *testing.T) {
	next := &scripted{}
	tr := budget.NewTracker(budget.Run{MaxUSD: 0.1})
	c := budget.Wrap(next, budget.Config{Prices: prices})
	ctx := budget.WithTracker(context.Background(), tr)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				c.Complete(ctx, request(10)) // refusals expected
			}
		})
	}
	wg.Wait()
	// $0.01 per call, $0.10 budget: exactly 10 calls fit whatever the interleaving.
	if n := next.calls.Load(); n != 10 {
		t.Errorf("%d calls reached the model, want 10", n)
	}
	if usd, _ := tr.Spent(); usd != 0.1 {
		t.Errorf("spent $%v, want $0.1", usd)
	}
}

func TestClient_NoBudgetPassesThrough(t *testing.T) {
	next := &scripted{}
	c := budget.Wrap(next, budget.Config{Prices: prices})
	for range 3 {
		if _, err := c.Complete(context.Background(), request(1_000_000)); err != nil {
			t.Fatal(err)
		}
	}
	if next.calls.Load() != 3 {
		t.Errorf("%d calls, want 3", next.calls.Load())
	}
}

// clock is a settable fake clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }
func (c *clock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }
func day(d int, h int) time.Time     { return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC) }
func kinds(alerts []budget.Alert) []string {
	var k []string
	for _, a := range alerts {
		k = append(k, a.Day+" "+a.Kind)
	}
	return k
}

func TestDaily_AlertsOncePerDayAndRollsOver(t *testing.T) {
	clk := &clock{now: day(25, 10)}
	var alerts []budget.Alert
	d := budget.NewDaily(budget.DailyConfig{BudgetUSD: 1, Now: clk.Now, OnAlert: func(a budget.Alert) { alerts = append(alerts, a) }})

	for _, step := range []struct {
		add  float64
		want []string
	}{
		{0.5, nil},
		{0.3, []string{"2026-11-25 daily_budget_80"}},
		{0.1, nil},
		{0.2, []string{"2026-11-25 daily_budget_exceeded"}},
		{5, nil},
	} {
		alerts = nil
		d.Add(step.add)
		if diff := cmp.Diff(step.want, kinds(alerts)); diff != "" {
			t.Errorf("after adding $%v (spent $%v): alerts (-want +got):\n%s", step.add, d.Spent(), diff)
		}
	}
	if got := d.Spent(); got != 6.1 {
		t.Errorf("spent $%v, want $6.1", got)
	}

	// 23:59 is still the same UTC day; midnight starts a new one.
	clk.Set(day(25, 23).Add(59 * time.Minute))
	if got := d.Spent(); got != 6.1 {
		t.Errorf("before midnight: spent $%v, want $6.1", got)
	}
	clk.Add(time.Minute)
	if got := d.Spent(); got != 0 {
		t.Errorf("after midnight: spent $%v, want $0", got)
	}
	alerts = nil
	d.Add(2)
	want := []budget.Alert{
		{Kind: budget.AlertDaily80, Day: "2026-11-26", SpentUSD: 2, BudgetUSD: 1},
		{Kind: budget.AlertDailyExceeded, Day: "2026-11-26", SpentUSD: 2, BudgetUSD: 1},
	}
	if diff := cmp.Diff(want, alerts); diff != "" {
		t.Errorf("next day's alerts (-want +got):\n%s", diff)
	}
}

func TestDaily_Enforce(t *testing.T) {
	for _, enforce := range []bool{true, false} {
		clk := &clock{now: day(25, 10)}
		var alerts []string
		d := budget.NewDaily(budget.DailyConfig{
			BudgetUSD: 0.05, Enforce: enforce, Now: clk.Now,
			OnAlert: func(a budget.Alert) { alerts = append(alerts, a.Kind) },
		})
		next := &scripted{}
		// Two runs, each with its own Tracker and no run budget, share the day.
		runs := []model.Client{
			budget.Wrap(next, budget.Config{Tracker: budget.NewTracker(budget.Run{}), Daily: d, Prices: prices}),
			budget.Wrap(next, budget.Config{Tracker: budget.NewTracker(budget.Run{}), Daily: d, Prices: prices}),
		}
		var stop error
		for i := range 10 {
			if _, err := runs[i%2].Complete(context.Background(), request(10)); err != nil {
				stop = err
				break
			}
		}
		if enforce {
			// $0.01 per call: the 6th call could reach $0.06 > $0.05.
			want := "budget: the next call could cost up to $0.01, which would cross the daily budget of $0.05 ($0.05 spent today)"
			if reason, _ := model.AsStop(stop); next.calls.Load() != 5 || reason != want {
				t.Errorf("enforced: %d calls, stop %q; want 5 calls and %q", next.calls.Load(), reason, want)
			}
			// A new day lets calls through again.
			clk.Add(24 * time.Hour)
			if _, err := runs[0].Complete(context.Background(), request(10)); err != nil {
				t.Errorf("next day: %v", err)
			}
		} else if stop != nil || next.calls.Load() != 10 {
			t.Errorf("not enforced: %d calls, err %v; want all 10 calls", next.calls.Load(), stop)
		}
		if diff := cmp.Diff([]string{budget.AlertDaily80, budget.AlertDailyExceeded}, alerts); diff != "" {
			t.Errorf("enforce=%v: alerts (-want +got):\n%s", enforce, diff)
		}
	}
}

func TestUSD(t *testing.T) {
	for in, want := range map[float64]string{
		0: "$0.00", 0.05: "$0.05", 0.041: "$0.041", 0.0123: "$0.0123", 12.5: "$12.50", 3: "$3.00",
		0.0000004: "$4e-07", 0.12345678: "$0.123457",
	} {
		if got := budget.USD(in); got != want {
			t.Errorf("USD(%v) = %q, want %q", in, got, want)
		}
	}
}

// The worst case of a request counts its tool definitions and the tool
// round in its messages: they are prompt tokens like the rest.
func TestClient_WorstCaseCountsToolsAndToolMessages(t *testing.T) {
	t.Parallel()
	const name = "gpt-4o"
	c := budget.Wrap(model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) { return &model.Response{}, nil }),
		budget.Config{Prices: prices})
	tok := tokenizer.MustForModel(name)
	msgs := []model.Message{{Role: model.RoleSystem, Content: "You are a reporter."}, {Role: model.RoleUser, Content: "Write about the harbour."}}
	tools := []model.Tool{{Name: "fetch_url", Description: "Fetch a web page and return its readable text.",
		Parameters: []byte(`{"type":"object","properties":{"url":{"type":"string"}},"required":["url"]}`)}}

	plain := c.WorstCase(&model.Request{Model: name, Messages: msgs, MaxTokens: 10}).PromptTokens
	withTools := c.WorstCase(&model.Request{Model: name, Messages: msgs, Tools: tools, MaxTokens: 10}).PromptTokens
	if want := model.PromptTokens(tok.Count, msgs) + model.ToolTokens(tok.Count, tools); withTools != want || withTools <= plain {
		t.Errorf("with tools: %d prompt tokens, want %d (without them %d)", withTools, want, plain)
	}

	round := append(append([]model.Message(nil), msgs...),
		model.Message{Role: model.RoleAssistant, ToolCalls: []model.ToolCall{{ID: "call_1", Name: "fetch_url", Arguments: `{"url":"https://example.org/harbour"}`}}},
		model.Message{Role: model.RoleTool, ToolCallID: "call_1", Content: `{"text":"The harbour reopened on Tuesday."}`})
	bare := append(append([]model.Message(nil), msgs...), model.Message{Role: model.RoleAssistant}, model.Message{Role: model.RoleTool})
	withRound := c.WorstCase(&model.Request{Model: name, Messages: round, MaxTokens: 10}).PromptTokens
	withoutRound := c.WorstCase(&model.Request{Model: name, Messages: bare, MaxTokens: 10}).PromptTokens
	if withRound != model.PromptTokens(tok.Count, round) || withRound <= withoutRound {
		t.Errorf("tool round: %d prompt tokens, want %d (without its calls and results %d)", withRound, model.PromptTokens(tok.Count, round), withoutRound)
	}
}
