package desk_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/telemetry"
)

func attr(kvs []attribute.KeyValue, key string) string {
	for _, kv := range kvs {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// A desk run wired as `newsroom run` wires it (team.WithObserver with
// the run observer) records an execute_tool span for each
// tool call, under the span of the reporter's turn, with the GenAI
// attributes of the call; a failed call's span says it failed.
func TestDesk_EachToolCallIsAnExecuteToolSpanUnderTheAgentsTurn(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewInMemoryExporter()
	p, err := telemetry.Setup(context.Background(), telemetry.Config{SpanExporter: spans, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })

	docs := map[string][2]string{"https://example.org/council": {"Council vote", "The council approved the harbour plan on Tuesday."}}
	task := "Write about https://example.org/council and https://example.org/missing"
	obs := telemetry.NewRunObserver(p, telemetry.RunInfo{RunID: "run-tools", Team: desk.RoundRobin})
	ctx := obs.Start(context.Background())
	_, events := runDesk(t, desk.Config{Tools: withPages(t, docs)}, task,
		team.WithObserver(obs))
	for _, e := range events {
		obs.Observe(ctx, e)
	}
	obs.End()
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}

	calls := map[string]bool{} // call id -> failed
	for _, e := range events {
		if e.Type == team.EventToolResult {
			calls[e.Tool.ID] = e.Tool.IsError
		}
	}
	if len(calls) != 2 || calls[""] {
		t.Fatalf("tool results %v, want 2 (the emulator fetches each URL of the task)", calls)
	}
	failures := 0
	for _, failed := range calls {
		if failed {
			failures++
		}
	}
	if failures != 1 {
		t.Fatalf("tool results %v, want the missing page's fetch to fail", calls)
	}
	turns := map[string]string{} // span id -> name
	for _, s := range spans.GetSpans() {
		turns[s.SpanContext.SpanID().String()] = s.Name
	}
	seen := map[string]bool{}
	for _, s := range spans.GetSpans() {
		if attr(s.Attributes, "gen_ai.operation.name") != "execute_tool" {
			continue
		}
		id := attr(s.Attributes, "gen_ai.tool.call.id")
		failed, ok := calls[id]
		if !ok || seen[id] {
			t.Errorf("span %q for call %q: not one span per call of the run (%v)", s.Name, id, calls)
			continue
		}
		seen[id] = true
		if s.Name != "execute_tool fetch_url" || attr(s.Attributes, "gen_ai.tool.name") != "fetch_url" || attr(s.Attributes, "gen_ai.tool.type") != "function" {
			t.Errorf("span %q attributes %v", s.Name, s.Attributes)
		}
		if parent := turns[s.Parent.SpanID().String()]; parent != "invoke_agent "+desk.Reporter {
			t.Errorf("span of call %s is under %q, want the reporter's turn", id, parent)
		}
		if failed != (s.Status.Code == codes.Error) {
			t.Errorf("call %s failed %v, span status %+v", id, failed, s.Status)
		}
	}
	if len(seen) != len(calls) {
		t.Fatalf("execute_tool spans for %v, want one for each call of %v", seen, calls)
	}
}
