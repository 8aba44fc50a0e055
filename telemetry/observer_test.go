package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/telemetry"
	"github.com/newsroom-dev/newsroom/termination"
)

func assistant(t *testing.T, name string, c model.Client) agent.Agent {
	t.Helper()
	a, err := agent.NewAssistant(agent.Config{Name: name, Client: c, Model: "gpt-4o"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func fixedReply(text string) model.Client {
	return model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) {
		return &model.Response{Model: "gpt-4o", Content: text, FinishReason: "stop", Usage: model.Usage{PromptTokens: 10, CompletionTokens: 5, Requests: 1}}, nil
	})
}

// TestRunObserver_TeamStream runs a real round-robin team and checks the run,
// selection and turn spans built from its events, and that model calls nest
// under the run.
func TestRunObserver_TeamStream(t *testing.T) {
	tp := mustProvider(t, telemetry.Config{})
	var logs bytes.Buffer
	logger := telemetry.NewLogger(&logs, "json", slog.LevelInfo)
	c := telemetry.Middleware(tp.Provider, telemetry.MiddlewareOptions{})(fixedReply("draft"))
	tm, err := team.NewRoundRobin(team.RoundRobinConfig{
		Participants: []agent.Agent{assistant(t, "Reporter", c), assistant(t, "Editor", c)},
		Termination:  termination.MaxMessages(2),
	})
	if err != nil {
		t.Fatal(err)
	}
	obs := telemetry.NewRunObserver(tp.Provider, telemetry.RunInfo{RunID: "run-7", Team: tm.Name(), Logger: logger})
	ctx := obs.Start(context.Background())
	var stop string
	for e, err := range obs.Wrap(ctx, tm.Stream(ctx, "Write about otters", team.WithRunID("run-7"))) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Type == team.EventRunFinished {
			stop = e.StopReason
		}
	}
	spans := tp.ended(t)
	runs := byName(spans, telemetry.SpanRun)
	if len(runs) != 1 {
		t.Fatalf("got %d run spans, want 1", len(runs))
	}
	run := runs[0]
	if v, _ := spanAttr(run.Attributes, "newsroom.stop_reason"); v.AsString() != stop || stop == "" {
		t.Errorf("run stop reason = %q, want %q", v.AsString(), stop)
	}
	if v, _ := spanAttr(run.Attributes, "gen_ai.usage.output_tokens"); v.AsInt64() != 10 {
		t.Errorf("run output tokens = %d, want 10", v.AsInt64())
	}
	for _, agentName := range []string{"Reporter", "Editor"} {
		turns := byName(spans, "invoke_agent "+agentName)
		if len(turns) != 1 {
			t.Fatalf("got %d turn spans for %s, want 1", len(turns), agentName)
		}
		if turns[0].Parent.SpanID() != run.SpanContext.SpanID() {
			t.Errorf("turn %s is not a child of the run", agentName)
		}
		if v, _ := spanAttr(turns[0].Attributes, "gen_ai.agent.name"); v.AsString() != agentName {
			t.Errorf("turn agent = %q", v.AsString())
		}
	}
	if n := len(byName(spans, telemetry.SpanSelect)); n != 2 {
		t.Errorf("got %d selection spans, want 2", n)
	}
	chats := byName(spans, "chat gpt-4o")
	if len(chats) != 2 {
		t.Fatalf("got %d model spans, want 2", len(chats))
	}
	for _, s := range chats {
		if s.SpanContext.TraceID() != run.SpanContext.TraceID() || s.Parent.SpanID() != run.SpanContext.SpanID() {
			t.Errorf("model span %s is not under the run span", s.SpanContext.SpanID())
		}
		if v, _ := spanAttr(s.Attributes, "gen_ai.conversation.id"); v.AsString() != "run-7" {
			t.Errorf("model span conversation id = %q", v.AsString())
		}
	}

	rm := tp.collect(t)
	if n := sumInt(t, rm, telemetry.MetricRunsStarted); n != 1 {
		t.Errorf("runs started = %d", n)
	}
	if n := sumInt(t, rm, telemetry.MetricRunsFinished, attribute.String("newsroom.stop_kind", string(termination.KindOf(stop)))); n != 1 {
		t.Errorf("runs finished with %q = %d", stop, n)
	}

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d log lines, want 3 (two messages, one end):\n%s", len(lines), logs.String())
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"run_id", "duration_ms", "tokens"} {
			if _, ok := m[k]; !ok {
				t.Errorf("log line lacks %s: %s", k, l)
			}
		}
	}
	var first map[string]any
	_ = json.Unmarshal([]byte(lines[0]), &first)
	if first["agent"] != "Reporter" || first["tokens"] != float64(15) {
		t.Errorf("first message line = %v, want agent Reporter tokens 15", first)
	}
}

// TestRunObserver_Hooks drives the observer the way the team does once it
// calls SelectContext and TurnContext around each step: model calls made
// with the step's context are children of the step's span.
func TestRunObserver_Hooks(t *testing.T) {
	tp := mustProvider(t, telemetry.Config{})
	c := telemetry.Middleware(tp.Provider, telemetry.MiddlewareOptions{})(fixedReply("ok"))
	obs := telemetry.NewRunObserver(tp.Provider, telemetry.RunInfo{RunID: "run-9", Team: "selector"})
	ctx := context.Background()
	t0 := time.Now()
	obs.Observe(ctx, team.Event{Type: team.EventRunStarted, Time: t0, Task: "t"})

	sctx, done := obs.SelectContext(ctx)
	if _, err := c.Complete(sctx, &model.Request{Model: "gpt-4o", Meta: model.Meta{Purpose: model.PurposeSelect}}); err != nil {
		t.Fatal(err)
	}
	done()
	obs.Observe(ctx, team.Event{Type: team.EventSpeakerSelected, Time: time.Now(), Speaker: "Editor", Attempts: 1})

	tctx, done := obs.TurnContext(ctx, "Editor")
	if _, err := c.Complete(tctx, &model.Request{Model: "gpt-4o", Meta: model.Meta{Agent: "Editor"}}); err != nil {
		t.Fatal(err)
	}
	done()
	obs.Observe(ctx, team.Event{Type: team.EventMessage, Time: time.Now(), Speaker: "Editor", Usage: model.Usage{PromptTokens: 10, CompletionTokens: 5}})
	obs.Observe(ctx, team.Event{Type: team.EventRunFinished, Time: time.Now(), StopReason: "error", Error: "model: HTTP 500"})

	spans := tp.ended(t)
	sel := one(t, spans, telemetry.SpanSelect)
	turn := one(t, spans, "invoke_agent Editor")
	run := one(t, spans, telemetry.SpanRun)
	if sel.Parent.SpanID() != run.SpanContext.SpanID() || turn.Parent.SpanID() != run.SpanContext.SpanID() {
		t.Error("selection or turn span is not a child of the run")
	}
	var parents []string
	for _, s := range byName(spans, "chat gpt-4o") {
		switch s.Parent.SpanID() {
		case sel.SpanContext.SpanID():
			parents = append(parents, "select")
		case turn.SpanContext.SpanID():
			parents = append(parents, "turn")
		default:
			parents = append(parents, "other")
		}
	}
	if strings.Join(parents, ",") != "select,turn" {
		t.Errorf("model span parents = %v, want [select turn]", parents)
	}
	if v, _ := spanAttr(sel.Attributes, "newsroom.speaker"); v.AsString() != "Editor" {
		t.Errorf("selection speaker = %q", v.AsString())
	}
	if v, _ := spanAttr(turn.Attributes, "gen_ai.usage.input_tokens"); v.AsInt64() != 10 {
		t.Errorf("turn input tokens = %d", v.AsInt64())
	}
	if run.Status.Description != "model: HTTP 500" {
		t.Errorf("run status = %+v, want the error", run.Status)
	}
	if !run.StartTime.Equal(t0) {
		t.Errorf("run start = %v, want the run_started time %v", run.StartTime, t0)
	}
}

func TestRunObserver_EndsOpenSpansWhenTheConsumerStops(t *testing.T) {
	tp := mustProvider(t, telemetry.Config{})
	obs := telemetry.NewRunObserver(tp.Provider, telemetry.RunInfo{})
	seq := func(yield func(team.Event, error) bool) {
		if !yield(team.Event{Type: team.EventRunStarted, Time: time.Now()}, nil) {
			return
		}
		yield(team.Event{Type: team.EventSpeakerSelected, Time: time.Now(), Speaker: "Reporter"}, nil)
	}
	for e := range obs.Wrap(context.Background(), seq) {
		if e.Type == team.EventRunStarted {
			break
		}
	}
	run := one(t, tp.ended(t), telemetry.SpanRun)
	if v, _ := spanAttr(run.Attributes, "newsroom.stop_reason"); v.AsString() != "cancelled" {
		t.Errorf("stop reason = %q, want cancelled", v.AsString())
	}
}

func one(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	got := byName(spans, name)
	if len(got) != 1 {
		t.Fatalf("got %d spans named %q, want 1", len(got), name)
	}
	return got[0]
}
