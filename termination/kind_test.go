package termination_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/budget"
	"github.com/newsroom-dev/newsroom/model/retry"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/termination"
)

// reasonOf returns the reason c gives on s, failing when it does not stop.
func reasonOf(t *testing.T, c termination.Condition, s *termination.State) string {
	t.Helper()
	r, ok := c.Check(s)
	if !ok {
		t.Fatalf("condition did not stop on %+v", s)
	}
	return r
}

// budgetReason makes the budget middleware refuse a call and returns its stop reason.
func budgetReason(t *testing.T, cfg budget.Config, ctx context.Context) string {
	t.Helper()
	c := budget.Wrap(model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) {
		t.Fatal("the call went through the budget")
		return nil, nil
	}), cfg)
	_, err := c.Complete(ctx, &model.Request{Model: "gpt-4o", Messages: []model.Message{{Role: "user", Content: "hello"}}})
	reason, ok := model.AsStop(err)
	if !ok {
		t.Fatalf("budget error %v is not a stop", err)
	}
	return reason
}

func TestKindOf_EveryReasonNewsroomWrites(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	msg := func(src, text string) *termination.State {
		return &termination.State{Messages: []agent.Message{{Source: src, Content: text}}, Started: t0, Now: t0}
	}
	ext := termination.NewExternal()
	ext.Stop("")
	cases := []struct {
		name   string
		reason string
		want   termination.Kind
	}{
		{"verdict", reasonOf(t, termination.Verdict("APPROVE", "Editor"), msg("Editor", "fine\nAPPROVE")), termination.KindVerdict},
		{"text mention", reasonOf(t, termination.TextMention("budget: $5"), msg("Writer", "budget: $5")), termination.KindTextMention},
		{"max messages", reasonOf(t, termination.MaxMessages(1), msg("Writer", "x")), termination.KindMaxMessages},
		{"token limit", reasonOf(t, termination.TokenUsage(termination.TokenLimits{Total: 1}),
			&termination.State{Usage: model.Usage{PromptTokens: 5}}), termination.KindTokenLimit},
		{"cost limit", reasonOf(t, termination.MaxCost(0.01), &termination.State{Usage: model.Usage{CostUSD: 1}}), termination.KindBudget},
		{"timeout condition", reasonOf(t, termination.Timeout(time.Second), &termination.State{Started: t0, Now: t0.Add(time.Hour)}), termination.KindTimeout},
		{"source match", reasonOf(t, termination.SourceMatch("Editor"), msg("Editor", "x")), termination.KindSourceMatch},
		{"external", reasonOf(t, ext, &termination.State{}), termination.KindExternal},
		{"and takes its first part", reasonOf(t, termination.And(termination.MaxMessages(1), termination.SourceMatch("Editor")),
			msg("Editor", "x")), termination.KindMaxMessages},
		{"run budget in dollars", budgetReason(t, budget.Config{Tracker: budget.NewTracker(budget.Run{MaxUSD: 0.000001234})}, context.Background()), termination.KindBudget},
		{"run budget in tokens", budgetReason(t, budget.Config{Tracker: budget.NewTracker(budget.Run{MaxTokens: 3})}, context.Background()), termination.KindBudget},
		{"daily budget", budgetReason(t, budget.Config{Daily: budget.NewDaily(budget.DailyConfig{BudgetUSD: 0.0000001, Enforce: true})}, context.Background()), termination.KindBudget},
		{"content filter", (&retry.ContentFilterError{Prompt: true, Categories: []string{"violence"}}).StopReason(), termination.KindContentFilter},
		{"the run loop's timeout", "timeout", termination.KindTimeout},
		{"the run loop's cancel", "cancelled", termination.KindCancelled},
		{"the run loop's error", "error", termination.KindError},
		{"a user's cancel", "cancelled by user", termination.KindCancelled},
		{"shutdown", "server shutting down", termination.KindShutdown},
		{"waiting for a decision", team.StopAwaitingApproval, termination.KindAwaitingApproval},
		{"approved", team.StopApproved, termination.KindApproved},
		{"rejected", team.StopRejected, termination.KindRejected},
		// The service's sweep writes it (server.expireWaiting); the server's
		// tests check an expired run's kind.
		{"the approval timed out", "approval timed out after 72h0m0s", termination.KindExpired},
		{"someone else's condition", "the moon is full", termination.KindOther},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := termination.KindOf(c.reason); got != c.want {
				t.Errorf("KindOf(%q) = %q, want %q", c.reason, got, c.want)
			}
			if !slices.Contains(termination.Kinds, c.want) {
				t.Errorf("%q is missing from Kinds", c.want)
			}
		})
	}
}

func TestKindOfRun_FailedRunIsError(t *testing.T) {
	cases := []struct {
		reason, err string
		want        termination.Kind
	}{
		{"error", "model: 500", termination.KindError},
		{"max messages reached (3)", "checkpoint lost", termination.KindError},
		{"cancelled", "context canceled", termination.KindCancelled},
		{"grounding: unsupported claims remained when the run reached its cap (max messages reached (5))", "the article still makes claims no source supports", termination.KindGrounding},
		{"verdict APPROVE from Editor", "", termination.KindVerdict},
	}
	for _, c := range cases {
		if got := termination.KindOfRun(c.reason, c.err); got != c.want {
			t.Errorf("KindOfRun(%q, %q) = %q, want %q", c.reason, c.err, got, c.want)
		}
	}
}
