package team_test

import (
	"context"
	"errors"
	"fmt"
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

// script is a model.Client whose answers are queued per caller (agent name or
// "selector"). It records every request.
type script struct {
	mu      sync.Mutex
	answers map[string][]string
	calls   []*model.Request
	hang    map[string]bool // callers whose calls block until ctx is done
	fail    map[string]error
}

func newScript() *script {
	return &script{answers: map[string][]string{}, hang: map[string]bool{}, fail: map[string]error{}}
}

func (s *script) queue(who string, answers ...string) *script {
	s.answers[who] = append(s.answers[who], answers...)
	return s
}

func (s *script) count(who string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.calls {
		if r.Meta.Agent == who {
			n++
		}
	}
	return n
}

func (s *script) Complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	s.mu.Lock()
	s.calls = append(s.calls, req)
	who := req.Meta.Agent
	if err := s.fail[who]; err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if s.hang[who] {
		s.mu.Unlock()
		<-ctx.Done()
		return nil, ctx.Err()
	}
	q := s.answers[who]
	if len(q) == 0 {
		s.mu.Unlock()
		return nil, fmt.Errorf("script: no answer left for %s", who)
	}
	text := q[0]
	s.answers[who] = q[1:]
	s.mu.Unlock()
	if req.OnDelta != nil {
		for _, w := range strings.SplitAfter(text, " ") {
			req.OnDelta(model.Delta{Text: w})
		}
	}
	return &model.Response{Content: text, Usage: model.Usage{PromptTokens: 10, CompletionTokens: 5, Requests: 1}}, nil
}

func assistants(t *testing.T, c model.Client, names ...string) []agent.Agent {
	t.Helper()
	var out []agent.Agent
	for _, n := range names {
		a, err := agent.NewAssistant(agent.Config{Name: n, Description: "does " + n, SystemPrompt: "You are " + n, Client: c})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func sources(ms []agent.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Source)
	}
	return out
}

func TestRoundRobin_SpeaksInOrderUntilVerdict(t *testing.T) {
	s := newScript().
		queue("Reporter", "Draft one", "Draft two").
		queue("Editor", "Fix the lead.\nREVISE", "I do not APPROVE of nothing... fine.\nAPPROVE")
	tm, err := team.NewRoundRobin(team.RoundRobinConfig{
		Participants: assistants(t, s, "Reporter", "Editor"),
		Termination:  termination.Or(termination.Verdict("APPROVE", "Editor"), termination.MaxMessages(10)),
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := team.Run(context.Background(), tm, "Facts: APPROVE appears in the task but must not stop the run.")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"Reporter", "Editor", "Reporter", "Editor"}, sources(res.Messages)); diff != "" {
		t.Fatalf("speaker order (-want +got):\n%s", diff)
	}
	if !strings.Contains(res.StopReason, "APPROVE") {
		t.Fatalf("stop reason %q", res.StopReason)
	}
	if res.Usage.PromptTokens != 40 || res.Usage.CompletionTokens != 20 || res.Usage.Requests != 4 {
		t.Fatalf("usage %+v", res.Usage)
	}
	if res.PerAgent["Reporter"].Requests != 2 || res.PerAgent["Editor"].Requests != 2 {
		t.Fatalf("per agent %+v", res.PerAgent)
	}
}

func TestRoundRobin_AgentsSeeTheConversation(t *testing.T) {
	s := newScript().queue("Reporter", "Draft").queue("Editor", "ok\nAPPROVE")
	tm, _ := team.NewRoundRobin(team.RoundRobinConfig{
		Participants: assistants(t, s, "Reporter", "Editor"),
		Termination:  termination.Verdict("APPROVE"),
	})
	if _, err := team.Run(context.Background(), tm, "the task"); err != nil {
		t.Fatal(err)
	}
	editor := s.calls[1]
	want := []model.Message{
		{Role: model.RoleSystem, Content: "You are Editor"},
		{Role: model.RoleUser, Name: "user", Content: "the task"},
		{Role: model.RoleUser, Name: "Reporter", Content: "Draft"},
	}
	if diff := cmp.Diff(want, editor.Messages); diff != "" {
		t.Fatalf("editor prompt (-want +got):\n%s", diff)
	}
}

func TestRoundRobin_MaxMessagesCapsARunWithoutApproval(t *testing.T) {
	s := newScript().queue("A", "1", "3", "5").queue("B", "2", "4")
	tm, _ := team.NewRoundRobin(team.RoundRobinConfig{Participants: assistants(t, s, "A", "B"), Termination: termination.MaxMessages(5)})
	res, err := team.Run(context.Background(), tm, "go")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 5 || res.StopReason != "max messages reached (5)" {
		t.Fatalf("%d messages, stop %q", len(res.Messages), res.StopReason)
	}
}

func TestRun_StreamsEventsInOrder(t *testing.T) {
	s := newScript().queue("A", "hello there world")
	tm, _ := team.NewRoundRobin(team.RoundRobinConfig{Participants: assistants(t, s, "A"), Termination: termination.MaxMessages(1)})
	var types []team.EventType
	var text string
	for e, err := range tm.Stream(context.Background(), "go", team.WithStreaming(true)) {
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, e.Type)
		if e.Type == team.EventDelta {
			text += e.Delta
		}
	}
	want := []team.EventType{team.EventRunStarted, team.EventSpeakerSelected, team.EventDelta, team.EventDelta, team.EventDelta, team.EventMessage, team.EventRunFinished}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	if text != "hello there world" {
		t.Fatalf("deltas joined = %q", text)
	}
}

func TestRun_FailedModelCallEndsWithErrorAndKeepsWork(t *testing.T) {
	s := newScript().queue("A", "first")
	s.fail["B"] = &model.Error{StatusCode: 401, Message: "denied"}
	tm, _ := team.NewRoundRobin(team.RoundRobinConfig{Participants: assistants(t, s, "A", "B")})
	res, err := team.Run(context.Background(), tm, "go")
	var me *model.Error
	if !errors.As(err, &me) || me.StatusCode != 401 {
		t.Fatalf("err = %v, want the model error", err)
	}
	if len(res.Messages) != 1 || res.Messages[0].Content != "first" {
		t.Fatalf("work before the failure lost: %+v", res.Messages)
	}
}

type stopErr struct{}

func (stopErr) Error() string      { return "budget would be crossed" }
func (stopErr) StopReason() string { return "budget: would cross $0.01" }

func TestRun_StopErrorEndsGracefully(t *testing.T) {
	s := newScript().queue("A", "first")
	s.fail["B"] = stopErr{}
	tm, _ := team.NewRoundRobin(team.RoundRobinConfig{Participants: assistants(t, s, "A", "B")})
	res, err := team.Run(context.Background(), tm, "go")
	if err != nil {
		t.Fatalf("a stop error must not fail the run: %v", err)
	}
	if res.StopReason != "budget: would cross $0.01" || len(res.Messages) != 1 {
		t.Fatalf("stop %q, %d messages", res.StopReason, len(res.Messages))
	}
}

func TestRun_TimeoutInterruptsAHungCall(t *testing.T) {
	s := newScript().queue("A", "first")
	s.hang["B"] = true
	tm, _ := team.NewRoundRobin(team.RoundRobinConfig{
		Participants: assistants(t, s, "A", "B"),
		Termination:  termination.Or(termination.Timeout(50*time.Millisecond), termination.MaxMessages(10)),
	})
	res, err := team.Run(context.Background(), tm, "go")
	if err != nil {
		t.Fatalf("timeout must stop the run gracefully: %v", err)
	}
	if !strings.HasPrefix(res.StopReason, "timeout") || len(res.Messages) != 1 {
		t.Fatalf("stop %q, %d messages", res.StopReason, len(res.Messages))
	}
}

func TestRun_CancelledContextFailsAsCancelled(t *testing.T) {
	s := newScript()
	s.hang["A"] = true
	tm, _ := team.NewRoundRobin(team.RoundRobinConfig{Participants: assistants(t, s, "A")})
	ctx, cancel := context.WithCancel(context.Background())
	var final team.Event
	var gotErr error
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	for e, err := range tm.Stream(ctx, "go") {
		if err != nil {
			gotErr = err
			continue
		}
		final = e
	}
	if !errors.Is(gotErr, context.Canceled) {
		t.Fatalf("err = %v", gotErr)
	}
	if final.Type != team.EventRunFinished || final.StopReason != "cancelled" {
		t.Fatalf("final event %+v", final)
	}
}

func TestRun_ExternalStopEndsAfterTheCurrentMessage(t *testing.T) {
	ext := termination.NewExternal()
	s := newScript().queue("A", "1", "3").queue("B", "2")
	tm, _ := team.NewRoundRobin(team.RoundRobinConfig{Participants: assistants(t, s, "A", "B")})
	var n int
	for e, err := range tm.Stream(context.Background(), "go", team.WithTermination(ext)) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Type == team.EventMessage {
			n++
			if n == 2 {
				ext.Stop("cancelled by user")
			}
		}
		if e.Type == team.EventRunFinished && e.StopReason != "cancelled by user" {
			t.Fatalf("stop %q", e.StopReason)
		}
	}
	if n != 2 {
		t.Fatalf("%d messages, want 2", n)
	}
}

func TestRun_TokenUsageStops(t *testing.T) {
	s := newScript().queue("A", "1", "2", "3")
	tm, _ := team.NewRoundRobin(team.RoundRobinConfig{Participants: assistants(t, s, "A"),
		Termination: termination.TokenUsage(termination.TokenLimits{Total: 30})})
	res, err := team.Run(context.Background(), tm, "go")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 2 || !strings.HasPrefix(res.StopReason, "token limit") {
		t.Fatalf("%d messages, stop %q", len(res.Messages), res.StopReason)
	}
}

func TestRun_SourceMatchStops(t *testing.T) {
	s := newScript().queue("A", "1").queue("B", "2")
	tm, _ := team.NewRoundRobin(team.RoundRobinConfig{Participants: assistants(t, s, "A", "B", "C"),
		Termination: termination.SourceMatch("B")})
	res, err := team.Run(context.Background(), tm, "go")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 2 || res.StopReason != "message from B" {
		t.Fatalf("%d messages, stop %q", len(res.Messages), res.StopReason)
	}
}

func TestRun_ResumesFromCheckpointWithoutRepeatingCalls(t *testing.T) {
	// A full run, recorded.
	full := newScript().queue("A", "a1", "a2").queue("B", "b1", "b2\nAPPROVE")
	mk := func(c model.Client) team.Team {
		tm, _ := team.NewRoundRobin(team.RoundRobinConfig{Participants: assistants(t, c, "A", "B"), Termination: termination.Verdict("APPROVE", "B")})
		return tm
	}
	want, err := team.Run(context.Background(), mk(full), "go")
	if err != nil {
		t.Fatal(err)
	}
	// The same run interrupted after two messages, then resumed.
	var cp team.Checkpoint
	first := newScript().queue("A", "a1").queue("B", "b1")
	n := 0
	for e, err := range mk(first).Stream(context.Background(), "go") {
		if err != nil {
			t.Fatal(err)
		}
		cp.Apply(e)
		if e.Type == team.EventMessage {
			if n++; n == 2 {
				break // the process dies here
			}
		}
	}
	rest := newScript().queue("A", "a2").queue("B", "b2\nAPPROVE")
	got, err := team.Run(context.Background(), mk(rest), "go", team.WithCheckpoint(cp))
	if err != nil {
		t.Fatal(err)
	}
	if len(rest.calls) != 2 {
		t.Fatalf("resumed run made %d model calls, want 2 (completed calls must not be repeated)", len(rest.calls))
	}
	if diff := cmp.Diff(want.Messages, got.Messages, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Time" }, cmp.Ignore())); diff != "" {
		t.Fatalf("resumed conversation differs (-want +got):\n%s", diff)
	}
	if got.Usage != want.Usage {
		t.Fatalf("usage %+v, want %+v", got.Usage, want.Usage)
	}
	if got.StopReason != want.StopReason {
		t.Fatalf("stop %q, want %q", got.StopReason, want.StopReason)
	}
}

func TestNew_RejectsBadTeams(t *testing.T) {
	s := newScript()
	if _, err := team.NewRoundRobin(team.RoundRobinConfig{}); !errors.Is(err, team.ErrNoParticipants) {
		t.Fatalf("no participants: %v", err)
	}
	if _, err := team.NewRoundRobin(team.RoundRobinConfig{Participants: assistants(t, s, "A", "A")}); !errors.Is(err, team.ErrDuplicateName) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := team.NewSelector(team.SelectorConfig{Participants: assistants(t, s, "A", "B")}); !errors.Is(err, team.ErrNoSelectorClient) {
		t.Fatalf("selector without client: %v", err)
	}
}
