package telemetry_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/telemetry"
)

// BenchmarkMiddleware measures what the middleware adds to a model call:
// with nothing configured (no-op providers) and with spans and metrics
// recorded in memory.
func BenchmarkMiddleware(b *testing.B) {
	next := answer(&model.Response{Model: "gpt-4o", Content: "ok", FinishReason: "stop", Usage: model.Usage{PromptTokens: 100, CompletionTokens: 20, CostUSD: 0.001}}, nil)
	noop, err := telemetry.Setup(context.Background(), telemetry.Config{Getenv: env(nil)})
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name string
		p    *telemetry.Provider
	}{
		{"bare client", nil},
		{"nothing configured", noop},
		{"recording", mustProvider(b, telemetry.Config{}).Provider},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			client := next
			if c.p != nil {
				client = telemetry.Middleware(c.p, telemetry.MiddlewareOptions{})(next)
			}
			req := request()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := client.Complete(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLogger measures a run log line through the enriching, redacting
// handler against a plain JSON handler.
func BenchmarkLogger(b *testing.B) {
	tp := mustProvider(b, telemetry.Config{})
	ctx, span := tp.TracerProvider().Tracer("b").Start(context.Background(), "op")
	defer span.End()
	ctx = model.WithMeta(ctx, model.Meta{RunID: "run-1"})
	attrs := append([]slog.Attr{slog.String("agent", "Reporter"), telemetry.DurationAttr(1500)}, telemetry.UsageAttrs(model.Usage{PromptTokens: 10, CompletionTokens: 5})...)
	for _, c := range []struct {
		name string
		l    *slog.Logger
	}{
		{"slog JSON", slog.New(slog.NewJSONHandler(io.Discard, nil))},
		{"telemetry JSON", telemetry.NewLogger(io.Discard, "json", slog.LevelInfo)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.l.LogAttrs(ctx, slog.LevelInfo, "message", attrs...)
			}
		})
	}
}
