package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/tool"
)

// toolModel asks for the calls in rounds (one answer per round), then
// answers with text; it records the requests.
type toolModel struct {
	mu     sync.Mutex
	rounds [][]model.ToolCall
	reqs   []*model.Request
}

func (m *toolModel) Complete(_ context.Context, req *model.Request) (*model.Response, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reqs = append(m.reqs, req)
	if len(m.rounds) > 0 && req.ToolChoice != model.ToolChoiceNone {
		calls := m.rounds[0]
		m.rounds = m.rounds[1:]
		return &model.Response{ToolCalls: calls, FinishReason: "tool_calls", Usage: model.Usage{PromptTokens: 10, CompletionTokens: 3, Requests: 1}}, nil
	}
	var b strings.Builder
	for _, msg := range req.Messages {
		if msg.Role == model.RoleTool {
			b.WriteString(msg.Content + "\n")
		}
	}
	return &model.Response{Content: "text from:\n" + b.String(), FinishReason: "stop", Usage: model.Usage{PromptTokens: 20, CompletionTokens: 5, Requests: 1}}, nil
}

type echoArgs struct {
	Text string `json:"text" jsonschema:"the text to echo"`
}

func TestNewFunc_DerivesSchemaAndValidatesArguments(t *testing.T) {
	echo := tool.MustFunc("echo", "Echo the text.", func(_ context.Context, a echoArgs) (tool.Result, error) {
		return tool.Result{Content: a.Text}, nil
	})
	var schema struct {
		Type       string                     `json:"type"`
		Properties map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
	}
	if err := json.Unmarshal(echo.Definition().Parameters, &schema); err != nil {
		t.Fatal(err)
	}
	if schema.Type != "object" || schema.Properties["text"] == nil || len(schema.Required) != 1 {
		t.Fatalf("schema %s", echo.Definition().Parameters)
	}
	if r, err := echo.Call(context.Background(), json.RawMessage(`{"text":"hi"}`)); err != nil || r.Content != "hi" {
		t.Fatalf("call: %+v %v", r, err)
	}
	for _, bad := range []string{`{"text":5}`, `{}`, `[1]`, `{"text":`} {
		if _, err := echo.Call(context.Background(), json.RawMessage(bad)); err == nil {
			t.Errorf("arguments %s accepted", bad)
		}
	}
}

func TestAssistant_RunsToolsInParallelAndSendsResultsBack(t *testing.T) {
	var running, peak atomic.Int32
	slow := tool.MustFunc("slow", "Wait a little.", func(ctx context.Context, a echoArgs) (tool.Result, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		// Hold until both calls run at once (bounded), proving parallelism.
		deadline := time.Now().Add(5 * time.Second)
		for peak.Load() < 2 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		return tool.Result{Content: `{"echo":"` + a.Text + `"}`, Source: tool.NewSource("https://example.org/"+a.Text, a.Text, a.Text, time.Now())}, nil
	})
	m := &toolModel{rounds: [][]model.ToolCall{{
		{ID: "c1", Name: "slow", Arguments: `{"text":"a"}`},
		{ID: "c2", Name: "slow", Arguments: `{"text":"b"}`},
	}}}
	a, _ := agent.NewAssistant(agent.Config{Name: "News_Reporter", Client: m, Tools: []tool.Tool{slow}})
	var events []string
	var msg agent.Message
	srcs := &numbering{}
	for e, err := range a.Run(context.Background(), agent.Turn{History: []agent.Message{{Source: agent.SourceUser, Content: "task"}}, Sources: srcs}) {
		if err != nil {
			t.Fatal(err)
		}
		switch e.Type {
		case agent.EventToolCall:
			events = append(events, fmt.Sprintf("call %d %s", e.Tool.Round, e.Tool.ID))
		case agent.EventToolResult:
			events = append(events, "result "+e.Tool.ID)
		case agent.EventMessage:
			msg = *e.Message
		}
	}
	if peak.Load() != 2 {
		t.Fatalf("calls ran one at a time (peak %d)", peak.Load())
	}
	if got := strings.Join(events, ", "); got != "call 0 c1, call 0 c2, result c1, result c2" {
		t.Fatalf("events %s", got)
	}
	if len(msg.ToolCalls) != 2 || msg.ToolCalls[0].SourceID != 1 || msg.ToolCalls[1].SourceID != 2 {
		t.Fatalf("exchanges %+v", msg.ToolCalls)
	}
	if !strings.Contains(msg.Content, `{"source":1,"echo":"a"}`) || !strings.Contains(msg.Content, `{"source":2,"echo":"b"}`) {
		t.Fatalf("results sent back without source numbers: %q", msg.Content)
	}
	if msg.Usage.Requests != 2 || msg.Usage.PromptTokens != 30 {
		t.Fatalf("usage %+v, want both calls", msg.Usage)
	}
	// The second request carries the assistant's calls and one tool message per call.
	second := m.reqs[1].Messages
	if n := len(second); second[n-3].Role != model.RoleAssistant || len(second[n-3].ToolCalls) != 2 ||
		second[n-2].ToolCallID != "c1" || second[n-1].ToolCallID != "c2" {
		t.Fatalf("second request %+v", second)
	}
	// A later turn shows the model its earlier calls and results.
	prompt := a.Prompt([]agent.Message{{Source: agent.SourceUser, Content: "task"}, msg})
	if len(prompt) != 5 || prompt[1].ToolCalls == nil || prompt[2].Role != model.RoleTool || prompt[4].Content != msg.Content {
		t.Fatalf("prompt %+v", prompt)
	}
}

func TestAssistant_ToolRoundsAreCapped(t *testing.T) {
	echo := tool.MustFunc("echo", "Echo.", func(_ context.Context, a echoArgs) (tool.Result, error) { return tool.Result{Content: a.Text}, nil })
	m := &toolModel{}
	for i := range 10 {
		m.rounds = append(m.rounds, []model.ToolCall{{ID: fmt.Sprint("c", i), Name: "echo", Arguments: `{"text":"x"}`}})
	}
	a, _ := agent.NewAssistant(agent.Config{Name: "A", Client: m, Tools: []tool.Tool{echo}, MaxToolRounds: 3})
	msg, err := agent.Reply(context.Background(), a, agent.Turn{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.reqs) != 4 || len(msg.ToolCalls) != 3 || m.reqs[3].ToolChoice != model.ToolChoiceNone || m.reqs[2].ToolChoice != "" {
		t.Fatalf("%d requests, %d exchanges, last tool_choice %q", len(m.reqs), len(msg.ToolCalls), m.reqs[len(m.reqs)-1].ToolChoice)
	}
	// Reflecting: one round of tools, then one call that must answer with text.
	m = &toolModel{rounds: m.rounds[:2]}
	a, _ = agent.NewAssistant(agent.Config{Name: "A", Client: m, Tools: []tool.Tool{echo}, ReflectOnToolUse: true})
	if _, err := agent.Reply(context.Background(), a, agent.Turn{}); err != nil {
		t.Fatal(err)
	}
	if len(m.reqs) != 2 || m.reqs[1].ToolChoice != model.ToolChoiceNone {
		t.Fatalf("reflect: %d requests", len(m.reqs))
	}
}

type panicky struct{}

func (panicky) Definition() model.Tool { return model.Tool{Name: "boom"} }
func (panicky) Call(context.Context, json.RawMessage) (tool.Result, error) {
	panic("kaboom")
}

func TestAssistant_BadCallsBecomeErrorResultsAndTheReplyGoesOn(t *testing.T) {
	hang := tool.MustFunc("hang", "Never answers.", func(ctx context.Context, _ struct{}) (tool.Result, error) {
		select {} // ignores its context: the agent must not wait for it
	})
	huge := tool.MustFunc("huge", "Too much.", func(context.Context, struct{}) (tool.Result, error) {
		return tool.Result{Content: strings.Repeat("x", 1000)}, nil
	})
	echo := tool.MustFunc("echo", "Echo.", func(_ context.Context, a echoArgs) (tool.Result, error) { return tool.Result{Content: a.Text}, nil })
	m := &toolModel{rounds: [][]model.ToolCall{{
		{ID: "u", Name: "nope", Arguments: `{}`},
		{ID: "m", Name: "echo", Arguments: `{"text":`},
		{ID: "s", Name: "echo", Arguments: `{"text":7}`},
		{ID: "p", Name: "boom", Arguments: `{}`},
		{ID: "h", Name: "hang", Arguments: `{}`},
		{ID: "g", Name: "huge", Arguments: `{}`},
		{ID: "a", Name: "boom", Arguments: `["not", "an", "object"]`},
		{ID: "ok", Name: "echo", Arguments: `{"text":"fine"}`},
	}}}
	var logs bytes.Buffer
	a, _ := agent.NewAssistant(agent.Config{Name: "A", Client: m, Tools: []tool.Tool{echo, panicky{}, hang, huge},
		ToolTimeout: 50 * time.Millisecond, MaxToolResult: 100, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	msg, err := agent.Reply(context.Background(), a, agent.Turn{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"u": "unknown tool", "m": "not valid JSON", "s": "bad arguments", "p": "panicked", "h": "did not answer within",
		"g": "more than the limit", "a": "must be a JSON object"}
	for _, ex := range msg.ToolCalls {
		if ex.ID == "ok" {
			if ex.IsError || ex.Result != "fine" {
				t.Errorf("good call: %+v", ex)
			}
			continue
		}
		if !ex.IsError || !strings.Contains(ex.Result, want[ex.ID]) || !json.Valid([]byte(ex.Result)) {
			t.Errorf("call %s: %+v, want an error mentioning %q", ex.ID, ex, want[ex.ID])
		}
	}
	if len(msg.ToolCalls) != 8 || !strings.HasPrefix(msg.Content, "text from:") {
		t.Fatalf("reply %+v", msg)
	}
	// Each bad call is a WARN line naming the tool and the call.
	for id := range want {
		if !strings.Contains(logs.String(), "level=WARN msg=\"tool ") || !strings.Contains(logs.String(), "call_id="+id+" ") {
			t.Errorf("no WARN line for call %s:\n%s", id, logs.String())
		}
	}
	if strings.Contains(logs.String(), "call_id=ok ") {
		t.Errorf("the good call was logged as failed:\n%s", logs.String())
	}
}

func TestAssistant_CallsPastTheLimitOfOneAnswerAreNotRun(t *testing.T) {
	var runs atomic.Int32
	echo := tool.MustFunc("echo", "Echo.", func(_ context.Context, a echoArgs) (tool.Result, error) {
		runs.Add(1)
		return tool.Result{Content: a.Text}, nil
	})
	var calls []model.ToolCall
	for i := range 5 {
		calls = append(calls, model.ToolCall{ID: fmt.Sprint("c", i), Name: "echo", Arguments: `{"text":"x"}`})
	}
	m := &toolModel{rounds: [][]model.ToolCall{calls}}
	var logs bytes.Buffer
	a, _ := agent.NewAssistant(agent.Config{Name: "A", Client: m, Tools: []tool.Tool{echo}, MaxToolCalls: 3,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	msg, err := agent.Reply(context.Background(), a, agent.Turn{})
	if err != nil {
		t.Fatal(err)
	}
	if runs.Load() != 3 || len(msg.ToolCalls) != 5 {
		t.Fatalf("%d runs, %d exchanges; want 3 run of 5", runs.Load(), len(msg.ToolCalls))
	}
	for i, ex := range msg.ToolCalls {
		if (i >= 3) != ex.IsError || (i >= 3 && !strings.Contains(ex.Result, "more than 3 tool calls in one answer")) {
			t.Errorf("call %d: %+v", i, ex)
		}
	}
	if n := strings.Count(logs.String(), "tool call failed"); n != 2 {
		t.Errorf("%d WARN lines, want 2:\n%s", n, logs.String())
	}
	if !strings.HasPrefix(msg.Content, "text from:") {
		t.Fatalf("reply %q", msg.Content)
	}
}

func TestAssistant_StoredResultsAreNotRunAgain(t *testing.T) {
	var runs atomic.Int32
	echo := tool.MustFunc("echo", "Echo.", func(_ context.Context, a echoArgs) (tool.Result, error) {
		runs.Add(1)
		return tool.Result{Content: a.Text}, nil
	})
	m := &toolModel{rounds: [][]model.ToolCall{{{ID: "c1", Name: "echo", Arguments: `{"text":"a"}`}, {ID: "c2", Name: "echo", Arguments: `{"text":"b"}`}}}}
	a, _ := agent.NewAssistant(agent.Config{Name: "A", Client: m, Tools: []tool.Tool{echo}})
	var results int
	var msg agent.Message
	done := []agent.ToolExchange{{ID: "c1", Name: "echo", Arguments: `{"text":"a"}`, Result: "stored a"}}
	for e, err := range a.Run(context.Background(), agent.Turn{Done: done}) {
		if err != nil {
			t.Fatal(err)
		}
		switch e.Type {
		case agent.EventToolResult:
			results++
		case agent.EventMessage:
			msg = *e.Message
		}
	}
	if runs.Load() != 1 || results != 1 || msg.ToolCalls[0].Result != "stored a" || msg.ToolCalls[1].Result != "b" {
		t.Fatalf("%d runs, %d result events, exchanges %+v", runs.Load(), results, msg.ToolCalls)
	}
}

func TestNewAssistant_RefusesToolsAModelCannotTake(t *testing.T) {
	echo := tool.MustFunc("echo", "Echo.", func(_ context.Context, a echoArgs) (tool.Result, error) { return tool.Result{Content: a.Text}, nil })
	m := &toolModel{}
	if _, err := agent.NewAssistant(agent.Config{Name: "A", Client: m, Tools: []tool.Tool{echo, echo}}); !errors.Is(err, agent.ErrTools) || !strings.Contains(err.Error(), `two tools named "echo"`) {
		t.Errorf("duplicate: %v", err)
	}
	var many []tool.Tool
	for i := range agent.MaxTools + 1 {
		many = append(many, tool.MustFunc(fmt.Sprint("t", i), "A tool.", func(context.Context, struct{}) (tool.Result, error) { return tool.Result{}, nil }))
	}
	if _, err := agent.NewAssistant(agent.Config{Name: "A", Client: m, Tools: many}); !errors.Is(err, agent.ErrTools) || !strings.Contains(err.Error(), "at most 128") {
		t.Errorf("too many: %v", err)
	}
	if _, err := agent.NewAssistant(agent.Config{Name: "A", Client: m, Tools: many[:agent.MaxTools]}); err != nil {
		t.Errorf("at the limit: %v", err)
	}
}

// failingRound answers the first call with a tool call and fails the next.
type failingRound struct {
	n   atomic.Int32
	err error
}

func (m *failingRound) Complete(context.Context, *model.Request) (*model.Response, error) {
	if m.n.Add(1) == 1 {
		return &model.Response{ToolCalls: []model.ToolCall{{ID: "c1", Name: "echo", Arguments: `{"text":"x"}`}},
			Usage: model.Usage{PromptTokens: 40, CompletionTokens: 4, Requests: 1, CostUSD: 0.0002}}, nil
	}
	return nil, m.err
}

// TestAssistant_AFailedToolRoundCarriesTheEarlierRoundsSpending: a model
// call failing in the second round returns an error that still is the
// call's error and carries the first round's usage (model.Spent), the
// agent's and deployment's names with it.
func TestAssistant_AFailedToolRoundCarriesTheEarlierRoundsSpending(t *testing.T) {
	echo := tool.MustFunc("echo", "Echo.", func(_ context.Context, a echoArgs) (tool.Result, error) { return tool.Result{Content: a.Text}, nil })
	reset := errors.New("provider: connection reset")
	a, _ := agent.NewAssistant(agent.Config{Name: "News_Reporter", Model: "gpt-4o", Client: &failingRound{err: reset}, Tools: []tool.Tool{echo}})
	_, err := agent.Reply(context.Background(), a, agent.Turn{History: []agent.Message{{Source: agent.SourceUser, Content: "task"}}})
	if !errors.Is(err, reset) {
		t.Fatalf("Reply = %v, want the call's error", err)
	}
	u, who, dep := model.Spent(err)
	if want := (model.Usage{PromptTokens: 40, CompletionTokens: 4, Requests: 1, CostUSD: 0.0002}); u != want || who != "News_Reporter" || dep != "gpt-4o" {
		t.Errorf("Spent = %+v %q %q, want %+v of News_Reporter on gpt-4o", u, who, dep, want)
	}
	// A failure in the first round spent nothing.
	first := &failingRound{err: reset}
	first.n.Store(1)
	b, _ := agent.NewAssistant(agent.Config{Name: "B", Client: first, Tools: []tool.Tool{echo}})
	if _, err := agent.Reply(context.Background(), b, agent.Turn{}); !errors.Is(err, reset) {
		t.Fatalf("Reply = %v, want the call's error", err)
	} else if u, _, _ := model.Spent(err); u != (model.Usage{}) {
		t.Errorf("a first round failing: Spent = %+v, want nothing", u)
	}
}

// With MaxToolRounds unset the cap is DefaultMaxToolRounds (5): a model
// that always asks for a tool is called five times with tools and a sixth
// time with tool_choice none.
func TestAssistant_DefaultToolRoundCapIsFive(t *testing.T) {
	t.Parallel()
	if agent.DefaultMaxToolRounds != 5 {
		t.Fatalf("DefaultMaxToolRounds = %d, the issue says 5", agent.DefaultMaxToolRounds)
	}
	echo := tool.MustFunc("echo", "Echo.", func(_ context.Context, a echoArgs) (tool.Result, error) { return tool.Result{Content: a.Text}, nil })
	m := &toolModel{}
	for i := range 20 {
		m.rounds = append(m.rounds, []model.ToolCall{{ID: fmt.Sprint("c", i), Name: "echo", Arguments: `{"text":"x"}`}})
	}
	a, err := agent.NewAssistant(agent.Config{Name: "A", Client: m, Tools: []tool.Tool{echo}})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := agent.Reply(context.Background(), a, agent.Turn{})
	if err != nil {
		t.Fatal(err)
	}
	var choices []string
	for _, r := range m.reqs {
		choices = append(choices, string(r.ToolChoice))
	}
	none := string(model.ToolChoiceNone)
	if want := []string{"", "", "", "", "", none}; fmt.Sprint(choices) != fmt.Sprint(want) {
		t.Fatalf("tool_choice per request %q, want %q (five rounds with tools, then none)", choices, want)
	}
	if len(msg.ToolCalls) != 5 {
		t.Fatalf("%d tool exchanges, want 5", len(msg.ToolCalls))
	}
}

// numbering numbers sources in the order they come, as a run does.
type numbering struct {
	mu   sync.Mutex
	srcs []tool.Source
}

func (n *numbering) Number(src tool.Source) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.srcs = append(n.srcs, src)
	return len(n.srcs)
}
