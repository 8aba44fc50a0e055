package team_test

import (
	"context"
	"errors"
	"testing"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
)

// TestRun_AFailedCallsSpendingCountsInTheTotals: a call that fails after
// paying for something (a similarity lookup's embedding, carried on the
// error by model.WithSpent) adds it to the run's totals, whether the run
// fails or a budget stops it, so the totals equal what the budgets were
// charged; a store rebuilding the checkpoint from the events agrees.
func TestRun_AFailedCallsSpendingCountsInTheTotals(t *testing.T) {
	emb := model.Usage{EmbeddingTokens: 40, EmbeddingUSD: 0.0000008, CostUSD: 0.0000008}
	req := &model.Request{Model: "gpt-4o", Meta: model.Meta{Agent: "B"}}
	for _, tc := range []struct {
		name   string
		err    error
		stop   string
		failed bool
	}{
		{"the run fails", errors.New("provider: connection reset"), "error", true},
		{"a budget stops the run", stopErr{}, "budget: would cross $0.01", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScript().queue("A", "first")
			s.fail["B"] = model.WithSpent(tc.err, emb, req)
			tm, _ := team.NewRoundRobin(team.RoundRobinConfig{Participants: assistants(t, s, "A", "B")})
			var events []team.Event
			res, err := team.Collect("go", team.Checkpoint{}, tm.Stream(context.Background(), "go"), func(e team.Event) { events = append(events, e) })
			if (err != nil) != tc.failed || res.StopReason != tc.stop {
				t.Fatalf("stop %q, err %v", res.StopReason, err)
			}
			message := res.Messages[0].Usage
			if want := message.Add(emb); res.Usage != want {
				t.Errorf("run usage %+v, want the message's plus the failed call's embedding %+v", res.Usage, want)
			}
			if res.PerAgent["B"] != emb || res.PerDeployment["gpt-4o"] != emb {
				t.Errorf("per agent %+v, per deployment %+v: want B's embedding on gpt-4o", res.PerAgent, res.PerDeployment)
			}
			last := events[len(events)-1]
			if last.Type != team.EventRunFinished || last.Usage != emb || last.Speaker != "B" || last.Total != res.Usage {
				t.Errorf("run_finished %+v", last)
			}
			var cp team.Checkpoint
			for _, e := range events {
				cp.Apply(e)
			}
			if cp.Usage != res.Usage {
				t.Errorf("checkpoint rebuilt from the events: %+v, want %+v", cp.Usage, res.Usage)
			}
		})
	}
}
