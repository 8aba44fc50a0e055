package team_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/tool"
)

// lookupDesk answers a graph's fan-out: Summary answers with text,
// Headlines first asks for a lookup and answers once it has the result.
type lookupDesk struct {
	mu    sync.Mutex
	calls map[string]int
}

func (d *lookupDesk) Complete(_ context.Context, req *model.Request) (*model.Response, error) {
	d.mu.Lock()
	d.calls[req.Meta.Agent]++
	d.mu.Unlock()
	u := model.Usage{PromptTokens: 10, CompletionTokens: 5, Requests: 1}
	switch who := req.Meta.Agent; {
	case who == "Editor":
		return &model.Response{Content: "ok\nAPPROVE", Usage: u}, nil
	case who == "Summary":
		return &model.Response{Content: "S", Usage: u}, nil
	case req.Messages[len(req.Messages)-1].Role == model.RoleTool:
		return &model.Response{Content: "1. H, " + req.Messages[len(req.Messages)-1].Content, Usage: u}, nil
	}
	return &model.Response{ToolCalls: []model.ToolCall{{ID: "h1", Name: "lookup", Arguments: `{"q":"harbour"}`}},
		FinishReason: "tool_calls", Usage: u}, nil
}

// fanOutWithATool is a graph whose fan-out branch Headlines calls a tool
// that counts its calls.
func fanOutWithATool(t *testing.T) (*team.Graph, *atomic.Int32) {
	t.Helper()
	var runs atomic.Int32
	lookup := tool.MustFunc("lookup", "Look a word up.", func(_ context.Context, a struct {
		Q string `json:"q"`
	}) (tool.Result, error) {
		runs.Add(1)
		return tool.Result{Content: "found " + a.Q}, nil
	})
	c := &lookupDesk{calls: map[string]int{}}
	var agents []agent.Agent
	for _, n := range []string{"Editor", "Summary", "Headlines"} {
		cfg := agent.Config{Name: n, Description: "does " + n, SystemPrompt: "You are " + n, Client: c}
		if n == "Headlines" {
			cfg.Tools = []tool.Tool{lookup}
		}
		a, err := agent.NewAssistant(cfg)
		if err != nil {
			t.Fatal(err)
		}
		agents = append(agents, a)
	}
	g, err := team.NewGraph(team.GraphConfig{
		Participants: agents,
		Edges: []team.Edge{
			{From: "Editor", To: "Summary", When: verdict("APPROVE")},
			{From: "Editor", To: "Headlines", When: verdict("APPROVE")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return g, &runs
}

// A tool call made by an agent in a parallel branch is part of the run's
// stream like a sequential turn's: a tool_call and a tool_result event of
// that speaker, before its message, which keeps the exchange.
func TestGraph_AFanOutBranchsToolCallsAreEvents(t *testing.T) {
	t.Parallel()
	g, runs := fanOutWithATool(t)
	var events []team.Event
	res, err := team.Collect("task", team.Checkpoint{}, g.Stream(context.Background(), "task"), func(e team.Event) { events = append(events, e) })
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		switch e.Type {
		case team.EventToolCall, team.EventToolResult, team.EventMessage:
			got = append(got, string(e.Type)+" "+e.Speaker)
		}
	}
	want := []string{"message Editor", "message Summary", "tool_call Headlines", "tool_result Headlines", "message Headlines"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	if runs.Load() != 1 {
		t.Fatalf("the tool ran %d times, want 1", runs.Load())
	}
	last := res.Messages[len(res.Messages)-1]
	if len(last.ToolCalls) != 1 || last.ToolCalls[0].Result != "found harbour" || last.Content != "1. H, found harbour" {
		t.Fatalf("Headlines' message %+v, want its lookup and the answer from its result", last)
	}
}

// A run stopped right after a parallel branch's tool result was stored
// resumes like a sequential turn: the stored result is used, the tool does
// not run again.
func TestGraph_AResumedFanOutBranchDoesNotRunItsToolAgain(t *testing.T) {
	t.Parallel()
	g, runs := fanOutWithATool(t)
	var cp team.Checkpoint
	for e, err := range g.Stream(context.Background(), "task") {
		if err != nil {
			t.Fatal(err)
		}
		cp.Apply(e)
		if e.Type == team.EventToolResult {
			break // the process dies here
		}
	}
	if len(cp.ToolResults) != 1 || cp.ToolResults[0].Result != "found harbour" {
		t.Fatalf("checkpoint tool results %+v, want Headlines' lookup", cp.ToolResults)
	}
	res, err := team.Run(context.Background(), g, "task", team.WithCheckpoint(cp))
	if err != nil {
		t.Fatal(err)
	}
	if runs.Load() != 1 {
		t.Fatalf("the tool ran %d times, want 1: a stored result was run again", runs.Load())
	}
	if diff := cmp.Diff([]string{"Editor", "Summary", "Headlines"}, sources(res.Messages)); diff != "" {
		t.Fatalf("messages (-want +got):\n%s", diff)
	}
	if last := res.Messages[len(res.Messages)-1]; last.Content != "1. H, found harbour" || len(last.ToolCalls) != 1 {
		t.Fatalf("Headlines' message %+v, want the stored result used", last)
	}
}
