package budget_test

import (
	"fmt"
	"testing"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/emutest"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/budget"
	"github.com/newsroom-dev/newsroom/model/cost"
)

// TestIntegration_WorstCaseBoundsRealUsage checks the worst case against what
// the emulator bills, and that a run against it stops within its budget.
func TestIntegration_WorstCaseBoundsRealUsage(t *testing.T) {
	_, p := emutest.Start(t, emulator.Config{ModelName: "gpt-4o-mini-2024-07-18", Seed: 3}, "newsroom-chat", nil)
	tr := budget.NewTracker(budget.Run{MaxUSD: 0.0005})
	b := budget.Wrap(nil, budget.Config{Model: "gpt-4o-mini"})
	c := model.Chain(p,
		budget.New(budget.Config{Tracker: tr, Model: "gpt-4o-mini"}),
		cost.New(cost.Config{Model: "gpt-4o-mini"}))

	var stopped bool
	for i := range 200 {
		req := &model.Request{Messages: []model.Message{
			{Role: model.RoleSystem, Content: "You are a reporter."},
			{Role: model.RoleUser, Name: "Editor", Content: fmt.Sprintf("Write paragraph %d about the harbour fire.", i)},
		}, MaxTokens: 150}
		worst := b.WorstCase(req)
		resp, err := c.Complete(t.Context(), req)
		if _, ok := model.AsStop(err); ok {
			stopped = true
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if resp.Usage.PromptTokens > worst.PromptTokens || resp.Usage.CompletionTokens > worst.CompletionTokens {
			t.Fatalf("call %d used %+v, more than the worst case %+v", i, resp.Usage, worst)
		}
	}
	if !stopped {
		t.Fatal("the run never reached its budget")
	}
	if usd, _ := tr.Spent(); usd > 0.0005 || usd == 0 {
		t.Errorf("spent $%v, want something within the $0.0005 budget", usd)
	}
}
