package telemetry

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/redact"
)

// Redacted replaces the value of an attribute whose name looks like a secret.
const Redacted = redact.Marker

// NewLogger returns a logger writing JSON (format "json") or text (anything
// else) to w at level. Its handler adds trace_id and span_id when the
// record's context carries a span, run_id from the context's model metadata
// (model.WithMeta), the attributes stored by ContextWithLogAttrs, and
// redacts attributes named like secrets (see redact.IsSecretName).
func NewLogger(w io.Writer, format string, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: redact.Attr}
	var h slog.Handler
	if strings.EqualFold(format, "json") {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(NewHandler(h))
}

// NewHandler wraps h with the context enrichment NewLogger does. It does not
// add redaction: give h a ReplaceAttr that calls RedactAttr for that.
func NewHandler(h slog.Handler) slog.Handler { return &ctxHandler{next: h} }

type ctxHandler struct {
	next slog.Handler
	// names already bound through WithAttrs, so the context does not repeat them
	bound map[string]bool
	group bool
}

func (h *ctxHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *ctxHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx == nil {
		return h.next.Handle(ctx, r)
	}
	var buf [8]slog.Attr
	extra := buf[:0]
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		extra = append(extra, slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	extra = append(extra, logAttrsFrom(ctx)...)
	if m, ok := model.MetaFrom(ctx); ok {
		if m.RunID != "" {
			extra = append(extra, slog.String("run_id", m.RunID))
		}
		if m.Agent != "" {
			extra = append(extra, slog.String("agent", m.Agent))
		}
	}
	if len(extra) == 0 {
		return h.next.Handle(ctx, r)
	}
	// Drop what the record or the logger already says, and repeats.
	keep := extra[:0]
	for i, a := range extra {
		dup := h.bound[a.Key]
		for _, b := range extra[:i] {
			dup = dup || b.Key == a.Key
		}
		r.Attrs(func(b slog.Attr) bool {
			dup = dup || b.Key == a.Key
			return !dup
		})
		if !dup {
			keep = append(keep, a)
		}
	}
	// Under WithGroup these land inside the group, as slog wants.
	r.AddAttrs(keep...)
	return h.next.Handle(ctx, r)
}

func (h *ctxHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	bound := make(map[string]bool, len(h.bound)+len(attrs))
	for k := range h.bound {
		bound[k] = true
	}
	if !h.group {
		for _, a := range attrs {
			bound[a.Key] = true
		}
	}
	return &ctxHandler{next: h.next.WithAttrs(attrs), bound: bound, group: h.group}
}

func (h *ctxHandler) WithGroup(name string) slog.Handler {
	return &ctxHandler{next: h.next.WithGroup(name), bound: h.bound, group: true}
}

type logAttrsKey struct{}

// ContextWithLogAttrs returns ctx whose log lines (through a NewLogger
// logger and the *Context logging methods) carry attrs, after any attached
// before. RunObserver.TurnContext adds agent this way.
func ContextWithLogAttrs(ctx context.Context, attrs ...slog.Attr) context.Context {
	prev := logAttrsFrom(ctx)
	all := make([]slog.Attr, 0, len(prev)+len(attrs))
	all = append(all, prev...)
	return context.WithValue(ctx, logAttrsKey{}, append(all, attrs...))
}

func logAttrsFrom(ctx context.Context) []slog.Attr {
	a, _ := ctx.Value(logAttrsKey{}).([]slog.Attr)
	return a
}

// RunAttrs are the fields every log line about a run carries: run_id and,
// when known, agent.
func RunAttrs(runID, agentName string) []slog.Attr {
	attrs := []slog.Attr{slog.String("run_id", runID)}
	if agentName != "" {
		attrs = append(attrs, slog.String("agent", agentName))
	}
	return attrs
}

// DurationAttr is duration_ms, in milliseconds with microsecond precision.
func DurationAttr(d time.Duration) slog.Attr {
	return slog.Float64("duration_ms", float64(d.Microseconds())/1000)
}

// UsageAttrs are the token and cost fields of a log line: tokens (the total),
// prompt_tokens, completion_tokens and cost_usd.
func UsageAttrs(u model.Usage) []slog.Attr {
	return []slog.Attr{
		slog.Int("tokens", u.TotalTokens()),
		slog.Int("prompt_tokens", u.PromptTokens),
		slog.Int("completion_tokens", u.CompletionTokens),
		slog.Float64("cost_usd", u.CostUSD),
	}
}

// RedactAttr is a slog ReplaceAttr function that replaces the values of
// secret-named attributes with Redacted (redact.Attr).
func RedactAttr(groups []string, a slog.Attr) slog.Attr { return redact.Attr(groups, a) }
