package telemetry

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/newsroom-dev/newsroom/model"
)

// ToolContext derives the context of one tool execution: it opens the span
// "execute_tool {name}" (GenAI semantic conventions: gen_ai.operation.name
// execute_tool, gen_ai.tool.name, gen_ai.tool.call.id, gen_ai.tool.type)
// under the agent's turn span, and end closes it with the call's error.
// Arguments and results are not recorded, like prompts and completions.
// Its signature fits the team.WithToolContext run option; it may be called
// from several goroutines at once.
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
