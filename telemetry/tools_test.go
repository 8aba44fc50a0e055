package telemetry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/telemetry"
)

func TestRunObserver_ToolContextOpensAnExecuteToolSpanPerCall(t *testing.T) {
	tp := mustProvider(t, telemetry.Config{})
	obs := telemetry.NewRunObserver(tp.Provider, telemetry.RunInfo{RunID: "run-7", Team: "roundrobin"})
	ctx := context.Background()
	obs.Observe(ctx, team.Event{Type: team.EventRunStarted, Time: time.Now(), Task: "t"})
	tctx, done := obs.TurnContext(ctx, "News_Reporter")
	_, endA := obs.ToolContext(tctx, model.ToolCall{ID: "call_a", Name: "fetch_url"})
	_, endB := obs.ToolContext(tctx, model.ToolCall{ID: "call_b", Name: "fetch_url"})
	endB(errors.New("web: refused"))
	endA(nil)
	done()
	obs.Observe(ctx, team.Event{Type: team.EventMessage, Time: time.Now(), Speaker: "News_Reporter"})
	obs.Observe(ctx, team.Event{Type: team.EventRunFinished, Time: time.Now(), StopReason: "verdict APPROVE from News_Editor"})

	spans := tp.ended(t)
	turn := one(t, spans, "invoke_agent News_Reporter")
	tools := byName(spans, "execute_tool fetch_url")
	if len(tools) != 2 {
		t.Fatalf("%d execute_tool spans, want 2", len(tools))
	}
	ids := map[string]bool{}
	for _, s := range tools {
		if s.Parent.SpanID() != turn.SpanContext.SpanID() {
			t.Error("execute_tool span is not a child of the agent's turn")
		}
		op, _ := spanAttr(s.Attributes, "gen_ai.operation.name")
		name, _ := spanAttr(s.Attributes, "gen_ai.tool.name")
		typ, _ := spanAttr(s.Attributes, "gen_ai.tool.type")
		id, _ := spanAttr(s.Attributes, "gen_ai.tool.call.id")
		if op.AsString() != "execute_tool" || name.AsString() != "fetch_url" || typ.AsString() != "function" {
			t.Errorf("attributes %v", s.Attributes)
		}
		ids[id.AsString()] = true
		if id.AsString() == "call_b" && s.Status.Description != "web: refused" {
			t.Errorf("failed call's status %+v", s.Status)
		}
	}
	if !ids["call_a"] || !ids["call_b"] {
		t.Errorf("call ids %v", ids)
	}
}
