package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"log/slog"

	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
)

var _ team.Observer = (*RunObserver)(nil)

// ToolContext derives the context of one tool execution: it opens the span
// "execute_tool {name}" (GenAI semantic conventions: gen_ai.operation.name
// execute_tool, gen_ai.tool.name, gen_ai.tool.call.id, gen_ai.tool.type)
// under the agent's turn span, and end closes it with the call's error.
// Arguments and results are not recorded, like prompts and completions.
// It may be called from several goroutines at once.
func (o *RunObserver) ToolContext(ctx context.Context, call model.ToolCall) (context.Context, func(error)) {
	ctx, span := o.p.tracerOrNoop().Start(ctx, "execute_tool "+call.Name, trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(semconv.GenAIOperationNameExecuteTool, semconv.GenAIToolName(call.Name),
			semconv.GenAIToolCallID(call.ID), semconv.GenAIToolType("function")))
	ctx = ContextWithLogAttrs(ctx, slog.String("tool", call.Name))
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// Agent wraps a for the run (team.Observer): each turn runs under its own
// span (TurnContext), so the turn's model calls are its children, and each
// tool call the turn yields is an execute_tool span under it, from its
// tool_call event to its tool_result event.
func (o *RunObserver) Agent(a agent.Agent) agent.Agent { return &tracedAgent{Agent: a, o: o} }

// tracedAgent is an agent whose turns a RunObserver traces.
type tracedAgent struct {
	agent.Agent
	o *RunObserver
}

func (t *tracedAgent) Run(ctx context.Context, turn agent.Turn) iter.Seq2[agent.Event, error] {
	return func(yield func(agent.Event, error) bool) {
		ctx, done := t.o.TurnContext(ctx, t.Name())
		defer done()
		open := map[string]func(error){}
		defer func() {
			for _, end := range open {
				end(nil)
			}
		}()
		for e, err := range t.Agent.Run(ctx, turn) {
			switch {
			case err != nil:
			case e.Type == agent.EventToolCall && e.Tool != nil:
				_, open[e.Tool.ID] = t.o.ToolContext(ctx, model.ToolCall{ID: e.Tool.ID, Name: e.Tool.Name, Arguments: e.Tool.Arguments})
			case e.Type == agent.EventToolResult && e.Tool != nil:
				if end, ok := open[e.Tool.ID]; ok {
					delete(open, e.Tool.ID)
					end(toolError(e.Tool))
				}
			case e.Type == agent.EventMessage:
				done() // the turn's span ends when its reply is complete
			}
			if !yield(e, err) {
				return
			}
		}
	}
}

// toolError is the error of a failed call, from the text it returned to
// the model ({"error": "..."}); nil for a call that did not fail.
func toolError(ex *agent.ToolExchange) error {
	if !ex.IsError {
		return nil
	}
	var r struct {
		Error string `json:"error"`
	}
	if json.Unmarshal([]byte(ex.Result), &r) == nil && r.Error != "" {
		return errors.New(r.Error)
	}
	return errors.New(ex.Result)
}
