package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/telemetry"
)

func TestNewLogger_TraceAndRunFields(t *testing.T) {
	tp := mustProvider(t, telemetry.Config{})
	var buf bytes.Buffer
	log := telemetry.NewLogger(&buf, "json", slog.LevelDebug)

	ctx, span := tp.TracerProvider().Tracer("t").Start(context.Background(), "op")
	ctx = model.WithMeta(ctx, model.Meta{RunID: "run-3"})
	ctx = telemetry.ContextWithLogAttrs(ctx, slog.String("agent", "Editor"))
	log.InfoContext(ctx, "message", append([]any{telemetry.DurationAttr(1500 * time.Microsecond)}, anyAttrs(telemetry.UsageAttrs(model.Usage{PromptTokens: 3, CompletionTokens: 4}))...)...)
	span.End()
	log.Info("no context")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"trace_id": span.SpanContext().TraceID().String(), "span_id": span.SpanContext().SpanID().String(),
		"run_id": "run-3", "agent": "Editor", "duration_ms": 1.5, "tokens": float64(7),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if strings.Contains(lines[1], "trace_id") || strings.Contains(lines[1], "run_id") {
		t.Errorf("a line without context carries ids: %s", lines[1])
	}
}

func TestNewLogger_ExplicitFieldsWin(t *testing.T) {
	var buf bytes.Buffer
	log := telemetry.NewLogger(&buf, "text", slog.LevelInfo).With("run_id", "explicit")
	log.InfoContext(model.WithMeta(context.Background(), model.Meta{RunID: "from-ctx"}), "x")
	if strings.Count(buf.String(), "run_id=") != 1 || !strings.Contains(buf.String(), "run_id=explicit") {
		t.Errorf("run_id duplicated or lost: %s", buf.String())
	}
}

func TestNewLogger_Redaction(t *testing.T) {
	tests := []struct {
		key    string
		redact bool
	}{
		{"api_key", true},
		{"AZURE_OPENAI_API_KEY", true},
		{"access_token", true},
		{"clientSecret", true},
		{"password", true},
		{"Authorization", true},
		{"tokens", false},
		{"prompt_tokens", false},
		{"agent", false},
		{"run_id", false},
		{"key_id", false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			for _, format := range []string{"json", "text"} {
				var buf bytes.Buffer
				log := telemetry.NewLogger(&buf, format, slog.LevelInfo)
				log.With(slog.Group("g", tt.key, "hunter2")).Info("x", tt.key, "hunter2")
				leaked := strings.Contains(buf.String(), "hunter2")
				if leaked == tt.redact {
					t.Errorf("%s: %s redacted=%v, want %v: %s", format, tt.key, !leaked, tt.redact, buf.String())
				}
				if tt.redact && !strings.Contains(buf.String(), telemetry.Redacted) {
					t.Errorf("%s: no %s marker: %s", format, telemetry.Redacted, buf.String())
				}
			}
		})
	}
}

func anyAttrs(as []slog.Attr) []any {
	out := make([]any, len(as))
	for i, a := range as {
		out[i] = a
	}
	return out
}
