package team_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/budget"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/tool"
)

// callFailure is a way a failed model call ends a run.
type callFailure struct {
	name   string
	err    error  // what the call returns
	stop   string // the run's stop reason
	failed bool   // whether the run fails (or is stopped)
}

// callFailures: an error fails the run, a budget stop stops it.
var callFailures = []callFailure{
	{"the run fails", errors.New("provider: connection reset"), "error", true},
	{"a budget stops the run", stopErr{}, "budget: would cross $0.01", false},
}

// run runs tm on "go", checks it ended as f says and returns its result and
// events.
func (f callFailure) run(t *testing.T, tm team.Team) (*team.Result, []team.Event) {
	t.Helper()
	var events []team.Event
	res, err := team.Collect("go", team.Checkpoint{}, tm.Stream(context.Background(), "go"), func(e team.Event) { events = append(events, e) })
	if (err != nil) != f.failed || res.StopReason != f.stop {
		t.Fatalf("stop %q, err %v", res.StopReason, err)
	}
	return res, events
}

// checkFinishedBy checks the run's last event is run_finished with the
// failed call's usage by speaker and the run's totals, and that a checkpoint
// rebuilt from the events has those totals too.
func checkFinishedBy(t *testing.T, events []team.Event, res *team.Result, speaker string, usage model.Usage) {
	t.Helper()
	last := events[len(events)-1]
	if last.Type != team.EventRunFinished || last.Usage != usage || last.Speaker != speaker || last.Total != res.Usage {
		t.Errorf("run_finished %+v", last)
	}
	var cp team.Checkpoint
	for _, e := range events {
		cp.Apply(e)
	}
	if cp.Usage != res.Usage {
		t.Errorf("checkpoint rebuilt from the events: %+v, want %+v", cp.Usage, res.Usage)
	}
}

// TestRun_AFailedCallsSpendingCountsInTheTotals: a call that fails after
// paying for something (a similarity lookup's embedding, carried on the
// error by model.WithSpent) adds it to the run's totals, whether the run
// fails or a budget stops it, so the totals equal what the budgets were
// charged; a store rebuilding the checkpoint from the events agrees.
func TestRun_AFailedCallsSpendingCountsInTheTotals(t *testing.T) {
	emb := model.Usage{EmbeddingTokens: 40, EmbeddingUSD: 0.0000008, CostUSD: 0.0000008}
	req := &model.Request{Model: "gpt-4o", Meta: model.Meta{Agent: "B"}}
	for _, tc := range callFailures {
		t.Run(tc.name, func(t *testing.T) {
			s := newScript().queue("A", "first")
			s.fail["B"] = model.WithSpent(tc.err, emb, req)
			tm, _ := team.NewRoundRobin(team.RoundRobinConfig{Participants: assistants(t, s, "A", "B")})
			res, events := tc.run(t, tm)
			message := res.Messages[0].Usage
			if want := message.Add(emb); res.Usage != want {
				t.Errorf("run usage %+v, want the message's plus the failed call's embedding %+v", res.Usage, want)
			}
			if res.PerAgent["B"] != emb || res.PerDeployment["gpt-4o"] != emb {
				t.Errorf("per agent %+v, per deployment %+v: want B's embedding on gpt-4o", res.PerAgent, res.PerDeployment)
			}
			checkFinishedBy(t, events, res, "B", emb)
		})
	}
}

// toolThenFail answers "A" with text and makes "B" call a tool in its first
// round and fail in its second (err), each call priced.
type toolThenFail struct {
	mu    sync.Mutex
	calls map[string]int
	err   error
}

var (
	textUsage = model.Usage{PromptTokens: 10, CompletionTokens: 5, Requests: 1, CostUSD: 0.00004}
	toolUsage = model.Usage{PromptTokens: 300, CompletionTokens: 20, Requests: 1, CostUSD: 0.00095}
)

func (c *toolThenFail) Complete(_ context.Context, req *model.Request) (*model.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[req.Meta.Agent]++
	switch {
	case req.Meta.Agent != "B":
		return &model.Response{Content: "first", Usage: textUsage}, nil
	case c.calls["B"] == 1:
		return &model.Response{ToolCalls: []model.ToolCall{{ID: "c1", Name: "echo", Arguments: `{"text":"x"}`}},
			FinishReason: "tool_calls", Usage: toolUsage}, nil
	}
	return nil, c.err
}

// TestRun_AToolLoopFailingPartwayCountsItsEarlierRounds: when an agent's
// model call fails in its second tool round (an error, or a budget stop),
// the first round, which the budget was charged for, is in the run's
// totals and B's, so the totals equal the budget's charges.
func TestRun_AToolLoopFailingPartwayCountsItsEarlierRounds(t *testing.T) {
	echo := tool.MustFunc("echo", "Echo.", func(_ context.Context, a struct {
		Text string `json:"text"`
	}) (tool.Result, error) {
		return tool.Result{Content: a.Text}, nil
	})
	for _, tc := range callFailures {
		t.Run(tc.name, func(t *testing.T) {
			tracker := budget.NewTracker(budget.Run{})
			c := budget.Wrap(&toolThenFail{calls: map[string]int{}, err: tc.err}, budget.Config{Tracker: tracker, Model: "gpt-4o"})
			var agents []agent.Agent
			for _, n := range []string{"A", "B"} {
				cfg := agent.Config{Name: n, Description: "does " + n, SystemPrompt: "You are " + n, Client: c, Model: "gpt-4o"}
				if n == "B" {
					cfg.Tools = []tool.Tool{echo}
				}
				a, err := agent.NewAssistant(cfg)
				if err != nil {
					t.Fatal(err)
				}
				agents = append(agents, a)
			}
			tm, _ := team.NewRoundRobin(team.RoundRobinConfig{Participants: agents})
			res, events := tc.run(t, tm)
			if want := textUsage.Add(toolUsage); res.Usage != want {
				t.Errorf("run usage %+v, want A's message and B's first round %+v", res.Usage, want)
			}
			if res.PerAgent["B"] != toolUsage || res.PerDeployment["gpt-4o"] != textUsage.Add(toolUsage) {
				t.Errorf("per agent %+v, per deployment %+v: want B's first round on gpt-4o", res.PerAgent, res.PerDeployment)
			}
			usd, tokens := tracker.Spent()
			if tokens != res.Usage.TotalTokens() || math.Abs(usd-res.Usage.CostUSD) > 1e-12 {
				t.Errorf("the budget was charged $%v and %d tokens, the run counts $%v and %d", usd, tokens, res.Usage.CostUSD, res.Usage.TotalTokens())
			}
			checkFinishedBy(t, events, res, "B", toolUsage)
		})
	}
}
