package team_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/termination"
)

func verdict(word string) func(agent.Message) bool {
	return func(m agent.Message) bool { return termination.HasVerdict(m.Content, word) }
}

func TestGraph_FollowsConditionalEdgesAndCapsLoops(t *testing.T) {
	t.Parallel()
	// The checker finds problems three times, but the loop back to the
	// writer may be taken only twice: the third time the otherwise edge
	// sends the draft on to the editor.
	s := newScript().
		queue("Writer", "d1", "d2", "d3").
		queue("Checker", "bad\nPROBLEMS", "bad\nPROBLEMS", "still bad\nPROBLEMS").
		queue("Editor", "ok\nAPPROVE")
	g, err := team.NewGraph(team.GraphConfig{
		Participants: assistants(t, s, "Writer", "Checker", "Editor"),
		Edges: []team.Edge{
			{From: "Writer", To: "Checker"},
			{From: "Checker", To: "Writer", When: verdict("PROBLEMS"), Max: 2},
			{From: "Checker", To: "Editor", Otherwise: true},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := team.Run(context.Background(), g, "task")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Writer", "Checker", "Writer", "Checker", "Writer", "Checker", "Editor"}
	if diff := cmp.Diff(want, sources(res.Messages)); diff != "" {
		t.Fatalf("path (-want +got):\n%s", diff)
	}
	if res.StopReason != team.StopGraphDone {
		t.Fatalf("stop %q", res.StopReason)
	}
}

func TestGraph_MentionEdgesAndTheTeamsTermination(t *testing.T) {
	t.Parallel()
	s := newScript().queue("A", "go to C please", "STOP now").queue("B", "never").queue("C", "back")
	g, err := team.NewGraph(team.GraphConfig{
		Participants: assistants(t, s, "A", "B", "C"),
		Edges: []team.Edge{
			{From: "A", To: "B", When: func(m agent.Message) bool { return strings.Contains(m.Content, "go to B") }},
			{From: "A", To: "C", When: func(m agent.Message) bool { return strings.Contains(m.Content, "go to C") }},
			{From: "C", To: "A", Max: 5},
		},
		Termination: termination.TextMention("STOP"),
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := team.Run(context.Background(), g, "task")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"A", "C", "A"}, sources(res.Messages)); diff != "" {
		t.Fatalf("path (-want +got):\n%s", diff)
	}
	if !strings.Contains(res.StopReason, "STOP") {
		t.Fatalf("stop %q", res.StopReason)
	}
}

// rendezvous answers after both fan-out agents have called: if the team ran
// them one after the other, the first would wait for ever (bounded by ctx).
type rendezvous struct {
	script  *script
	mu      sync.Mutex
	arrived int
	all     chan struct{}
	history map[string]int
}

func (r *rendezvous) Complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	who := req.Meta.Agent
	if who == "Headlines" || who == "Summary" {
		r.mu.Lock()
		r.arrived++
		r.history[who] = len(req.Messages)
		if r.arrived == 2 {
			close(r.all)
		}
		r.mu.Unlock()
		select {
		case <-r.all:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return r.script.Complete(ctx, req)
}

func TestGraph_FanOutRunsIndependentNodesAtOnce(t *testing.T) {
	t.Parallel()
	s := newScript().queue("Editor", "ok\nAPPROVE").queue("Headlines", "1. H").queue("Summary", "S").queue("Publisher", "done")
	r := &rendezvous{script: s, all: make(chan struct{}), history: map[string]int{}}
	g, err := team.NewGraph(team.GraphConfig{
		Participants: assistants(t, r, "Editor", "Headlines", "Summary", "Publisher"),
		Edges: []team.Edge{
			{From: "Editor", To: "Summary", When: verdict("APPROVE")},
			{From: "Editor", To: "Headlines", When: verdict("APPROVE")},
			{From: "Headlines", To: "Publisher"},
			{From: "Summary", To: "Publisher"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var events []team.EventType
	res, err := team.Collect("task", team.Checkpoint{}, g.Stream(ctx, "task"), func(e team.Event) { events = append(events, e.Type) })
	if err != nil {
		t.Fatalf("the fan-out nodes did not run at once: %v", err)
	}
	// Messages are appended in edge order, whichever finished first, and
	// Publisher, reached from both, runs once.
	if diff := cmp.Diff([]string{"Editor", "Summary", "Headlines", "Publisher"}, sources(res.Messages)); diff != "" {
		t.Fatalf("messages (-want +got):\n%s", diff)
	}
	// Both saw the same history: system, task, the editor's message.
	if r.history["Headlines"] != 3 || r.history["Summary"] != 3 {
		t.Fatalf("fan-out histories %v", r.history)
	}
	if n := strings.Count(strings.Join(func() []string {
		var out []string
		for _, e := range events {
			out = append(out, string(e))
		}
		return out
	}(), " "), "speaker_selected"); n != 4 {
		t.Fatalf("%d speaker_selected events, want 4: %v", n, events)
	}
}

func TestGraph_AFailedFanOutBranchKeepsWhatTheOthersAnswered(t *testing.T) {
	t.Parallel()
	// Summary comes first in edge order and fails; Headlines answers. Its
	// reply was paid for: it is recorded and its usage counted in the totals.
	s := newScript().queue("Editor", "ok\nAPPROVE").queue("Headlines", "1. H")
	s.fail["Summary"] = errors.New("summary desk down")
	g, err := team.NewGraph(team.GraphConfig{
		Participants: assistants(t, s, "Editor", "Headlines", "Summary"),
		Edges: []team.Edge{
			{From: "Editor", To: "Summary", When: verdict("APPROVE")},
			{From: "Editor", To: "Headlines", When: verdict("APPROVE")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := team.Collect("task", team.Checkpoint{}, g.Stream(context.Background(), "task"), nil)
	if err == nil || !strings.Contains(err.Error(), "summary desk down") {
		t.Fatalf("run error %v, want the Summary failure", err)
	}
	if diff := cmp.Diff([]string{"Editor", "Headlines"}, sources(res.Messages)); diff != "" {
		t.Fatalf("messages (-want +got):\n%s", diff)
	}
	if res.Usage.Requests != 2 || res.Usage.PromptTokens != 20 {
		t.Fatalf("totals %+v, want the Editor's and Headlines' calls (2 requests, 20 prompt tokens)", res.Usage)
	}
}

func TestGraph_ResumesFromItsMessages(t *testing.T) {
	t.Parallel()
	s := newScript().queue("Writer", "d2").queue("Checker", "fine\nCLEARED").queue("Editor", "ok")
	g, err := team.NewGraph(team.GraphConfig{
		Participants: assistants(t, s, "Writer", "Checker", "Editor"),
		Edges: []team.Edge{
			{From: "Writer", To: "Checker"},
			{From: "Checker", To: "Writer", When: verdict("PROBLEMS"), Max: 2},
			{From: "Checker", To: "Editor", When: verdict("CLEARED")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cp := team.Checkpoint{Messages: []agent.Message{{Source: "Writer", Content: "d1"}, {Source: "Checker", Content: "x\nPROBLEMS"}},
		NextSpeaker: "Editor"} // a stale next speaker is ignored: the graph replays its messages
	res, err := team.Run(context.Background(), g, "task", team.WithCheckpoint(cp))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"Writer", "Checker", "Writer", "Checker", "Editor"}, sources(res.Messages)); diff != "" {
		t.Fatalf("resumed path (-want +got):\n%s", diff)
	}
	if s.count("Writer") != 1 {
		t.Fatalf("the writer was called %d times, want 1", s.count("Writer"))
	}
}

func TestSelector_FollowsThePlanWithoutSelectorCalls(t *testing.T) {
	t.Parallel()
	s := newScript().
		queue("selector", "Planner", "Planner").
		queue("Planner", "Plan:\n1. News_Reporter : draft\n2. **News_Editor** : review\n3. News_Reporter : revise\n4. Nobody : celebrate", "done\nTERMINATE").
		queue("News_Reporter", "article", "article 2").
		queue("News_Editor", "fix it")
	var planned []bool
	tm := selectorTeam(t, s, team.SelectorConfig{Planner: "Planner", FollowPlan: true})
	_, err := team.Collect("write", team.Checkpoint{}, tm.Stream(context.Background(), "write"), func(e team.Event) {
		if e.Type == team.EventSpeakerSelected {
			planned = append(planned, e.Planned)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// Asked before the plan exists, follows its three steps, and asks again
	// when step 4 names no participant.
	if diff := cmp.Diff([]bool{false, true, true, true, false}, planned); diff != "" {
		t.Fatalf("planned selections (-want +got):\n%s", diff)
	}
	if n := s.count("selector"); n != 2 {
		t.Fatalf("%d selector calls, want 2", n)
	}
}

func TestSelector_ContextPolicyTrimsTheSelectorsHistory(t *testing.T) {
	t.Parallel()
	s := newScript().
		queue("selector", "Planner", "News_Reporter", "News_Editor", "Planner").
		queue("Planner", "first words", "TERMINATE").
		queue("News_Reporter", "article").
		queue("News_Editor", "notes")
	tm := selectorTeam(t, s, team.SelectorConfig{Context: agent.ContextPolicy{Kind: agent.ContextLast, Last: 1}})
	if _, err := team.Run(context.Background(), tm, "the task"); err != nil {
		t.Fatal(err)
	}
	var last string
	for _, c := range s.calls {
		if c.Meta.Agent == "selector" {
			last = c.Messages[0].Content
		}
	}
	if !strings.Contains(last, "user: the task") || !strings.Contains(last, "News_Editor: notes") || strings.Contains(last, "first words") {
		t.Fatalf("the last selection prompt must keep the task and the newest message only:\n%s", last)
	}
}

// writerThenEditor is the smallest graph that runs out of steps: Writer,
// then Editor, then nothing.
func writerThenEditor(t *testing.T, s *script) *team.Graph {
	t.Helper()
	g, err := team.NewGraph(team.GraphConfig{
		Participants: assistants(t, s, "Writer", "Editor"),
		Edges:        []team.Edge{{From: "Writer", To: "Editor"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestGraph_PausesForApprovalWhenItRunsOutOfSteps: a graph's natural end
// means its work is done, so a run that requires approval waits there, and
// an approval on resume finishes it without another model call.
func TestGraph_PausesForApprovalWhenItRunsOutOfSteps(t *testing.T) {
	t.Parallel()
	s := newScript().queue("Writer", "draft").queue("Editor", "ok")
	g := writerThenEditor(t, s)
	var cp team.Checkpoint
	res, err := team.Collect("task", team.Checkpoint{}, g.Stream(context.Background(), "task", team.WithApproval(true)), cp.Apply)
	if err != nil {
		t.Fatal(err)
	}
	if res.StopReason != team.StopAwaitingApproval || !cp.Awaiting || len(cp.Messages) != 2 {
		t.Fatalf("stop %q, awaiting %v, %d messages", res.StopReason, cp.Awaiting, len(cp.Messages))
	}
	res, err = team.Run(context.Background(), g, "task", team.WithCheckpoint(cp),
		team.WithDecision(team.Decision{Decision: team.DecisionApprove, By: "chief"}))
	if err != nil {
		t.Fatal(err)
	}
	if res.StopReason != team.StopApproved || s.count("Writer")+s.count("Editor") != 2 {
		t.Fatalf("stop %q after %d calls", res.StopReason, s.count("Writer")+s.count("Editor"))
	}
}

func TestGraph_ARevisionNoteRestartsTheGraph(t *testing.T) {
	t.Parallel()
	s := newScript().queue("Writer", "draft", "draft 2").queue("Editor", "ok", "ok 2")
	g := writerThenEditor(t, s)
	var cp team.Checkpoint
	if _, err := team.Collect("task", team.Checkpoint{}, g.Stream(context.Background(), "task", team.WithApproval(true)), cp.Apply); err != nil {
		t.Fatal(err)
	}
	res, err := team.Collect("task", cp, g.Stream(context.Background(), "task", team.WithApproval(true), team.WithCheckpoint(cp),
		team.WithDecision(team.Decision{Decision: team.DecisionRevise, Note: "Shorter, please.", By: "chief"})), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Writer", "Editor", team.EditorInChief, "Writer", "Editor"}
	if diff := cmp.Diff(want, sources(res.Messages)); diff != "" || res.StopReason != team.StopAwaitingApproval {
		t.Fatalf("stop %q, path (-want +got):\n%s", res.StopReason, diff)
	}
}
