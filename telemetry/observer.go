package telemetry

import (
	"context"
	"iter"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/termination"
)

// Span names of a run.
const (
	SpanRun    = "newsroom.run"
	SpanSelect = "newsroom.select_speaker"
)

// RunInfo describes the run a RunObserver watches. Every field may be empty.
type RunInfo struct {
	// RunID is the run's id (gen_ai.conversation.id, run_id in logs).
	RunID string
	// Team is the team kind ("roundrobin", "selector").
	Team string
	// Logger, when set, gets one line per message and one at the end of the
	// run, each with run_id, agent, duration_ms and tokens.
	Logger *slog.Logger
	// NoFinishLine leaves the "run finished" line to the caller: the
	// service logs one per run itself, with the run's final status (a run
	// the service cancels or hands over looks different from the team's
	// own end), so a run never has two.
	NoFinishLine bool
}

// RunObserver turns a team's event stream into spans, metrics and log lines:
// a span for the run, one per selector decision and one per agent turn
// ("invoke_agent {agent}"). Model-call spans become children of the turn or
// selection span when the run is watched with team.WithObserver (the
// observer wraps each agent and derives each selection's context); a run
// not watched that way has them under the run span, and the turn and
// selection spans are reconstructed from the event times.
//
// A RunObserver watches one run. Its methods are safe for concurrent use.
type RunObserver struct {
	p    *Provider
	info RunInfo

	mu      sync.Mutex
	runCtx  context.Context
	run     trace.Span
	started time.Time
	last    time.Time // time of the last event, the start of the next step
	sel     *step
	turn    *step
	ended   bool
}

// step is an open selection or turn span.
type step struct {
	span    trace.Span
	speaker string
	start   time.Time
	end     time.Time // set by the hook's done func; zero until then
}

// NewRunObserver returns an observer for one run.
func NewRunObserver(p *Provider, info RunInfo) *RunObserver {
	return &RunObserver{p: p, info: info}
}

// Start opens the run span and returns ctx carrying it; pass that context
// to the team so model calls made outside the turns and selections the
// observer wraps still nest under the run. Calling Start is optional: the run_started event opens the span
// otherwise.
func (o *RunObserver) Start(ctx context.Context) context.Context {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.startLocked(ctx, time.Now())
	return o.runCtx
}

func (o *RunObserver) startLocked(ctx context.Context, at time.Time) {
	if o.run != nil {
		return
	}
	attrs := []attribute.KeyValue{semconv.GenAIOperationNameInvokeAgent}
	if o.info.RunID != "" {
		attrs = append(attrs, semconv.GenAIConversationID(o.info.RunID), AttrRunID.String(o.info.RunID))
	}
	if o.info.Team != "" {
		attrs = append(attrs, AttrTeam.String(o.info.Team))
	}
	o.runCtx, o.run = o.p.tracerOrNoop().Start(ctx, SpanRun, trace.WithTimestamp(at), trace.WithAttributes(attrs...))
	o.started, o.last = at, at
}

// TurnContext derives the context of one agent turn: it opens the span
// "invoke_agent {speaker}" under the run span. The observer's agent wrapper
// (Agent) runs each turn with it and calls done when the turn's reply is
// complete; the message event then closes the span with its usage.
func (o *RunObserver) TurnContext(ctx context.Context, speaker string) (context.Context, func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	o.startLocked(ctx, now)
	o.endStepLocked(&o.turn, now, nil)
	parent := trace.ContextWithSpan(ctx, o.run)
	ctx, span := o.p.tracerOrNoop().Start(parent, "invoke_agent "+speaker,
		trace.WithAttributes(semconv.GenAIOperationNameInvokeAgent, semconv.GenAIAgentName(speaker)))
	st := &step{span: span, speaker: speaker, start: now}
	o.turn = st
	ctx = ContextWithLogAttrs(ctx, slog.String("agent", speaker))
	return ctx, func() { o.markDone(st) }
}

// SelectContext derives the context of one speaker selection: it opens the
// selection span under the run span (team.Observer).
func (o *RunObserver) SelectContext(ctx context.Context) (context.Context, func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	o.startLocked(ctx, now)
	o.endStepLocked(&o.sel, now, nil)
	parent := trace.ContextWithSpan(ctx, o.run)
	ctx, span := o.p.tracerOrNoop().Start(parent, SpanSelect)
	st := &step{span: span, start: now}
	o.sel = st
	return ctx, func() { o.markDone(st) }
}

func (o *RunObserver) markDone(st *step) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if st.end.IsZero() {
		st.end = time.Now()
	}
}

// Observe folds one event into the spans and metrics.
func (o *RunObserver) Observe(ctx context.Context, e team.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ended {
		return
	}
	at := e.Time
	if at.IsZero() {
		at = time.Now()
	}
	in := o.p.instruments()
	switch e.Type {
	case team.EventRunStarted:
		o.startLocked(ctx, at)
		o.run.SetAttributes(attribute.Bool("newsroom.resumed", e.Resumed), attribute.Int("newsroom.task.length", len(e.Task)))
		o.last = at
		in.runsStarted.Add(ctx, 1, metric.WithAttributes(o.teamAttrs()...))
	case team.EventSpeakerSelected:
		o.startLocked(ctx, at)
		if o.sel == nil {
			o.sel = o.openStepLocked(SpanSelect, "", o.last)
		}
		o.sel.span.SetAttributes(
			attribute.String("newsroom.speaker", e.Speaker),
			attribute.Int("newsroom.selector.attempts", e.Attempts),
			attribute.Bool("newsroom.selector.fallback", e.Fallback),
			semconv.GenAIUsageInputTokens(e.Usage.PromptTokens),
			semconv.GenAIUsageOutputTokens(e.Usage.CompletionTokens),
		)
		o.endStepLocked(&o.sel, at, nil)
		o.last = at
	case team.EventMessage:
		o.startLocked(ctx, at)
		if o.turn == nil {
			o.turn = o.openStepLocked("invoke_agent "+e.Speaker, e.Speaker, o.last)
		}
		u := e.Usage
		o.turn.span.SetAttributes(
			semconv.GenAIUsageInputTokens(u.PromptTokens),
			semconv.GenAIUsageOutputTokens(u.CompletionTokens),
			AttrCostUSD.Float64(u.CostUSD),
			attribute.Int("newsroom.message.index", e.Index),
		)
		start := o.turn.start
		o.endStepLocked(&o.turn, at, nil)
		if l := o.info.Logger; l != nil {
			l.LogAttrs(ctx, slog.LevelInfo, "message", append(o.logAttrs(e.Speaker, at.Sub(start)), UsageAttrs(u)...)...)
		}
		o.last = at
	case team.EventSecurity:
		if e.Security != nil {
			in.security.Add(ctx, 1, metric.WithAttributes(append(o.teamAttrs(), AttrSecurityKind.String(securityKind(e.Security.Kind)))...))
		}
	case team.EventRunFinished:
		o.startLocked(ctx, at)
		var err error
		if e.Error != "" {
			err = eventError(e.Error)
		}
		o.endStepLocked(&o.sel, at, err)
		o.endStepLocked(&o.turn, at, err)
		kind := string(termination.KindOfRun(e.StopReason, e.Error))
		// Metrics are labelled by the kind only: the reason's text may carry
		// a request's input (its budget), which would make a series per run.
		attrs := append(o.teamAttrs(), AttrStopKind.String(kind))
		o.run.SetAttributes(
			AttrStopReason.String(e.StopReason),
			AttrStopKind.String(kind),
			semconv.GenAIUsageInputTokens(e.Total.PromptTokens),
			semconv.GenAIUsageOutputTokens(e.Total.CompletionTokens),
			AttrCostUSD.Float64(e.Total.CostUSD),
			attribute.Int("newsroom.messages", e.Index),
		)
		if err != nil {
			o.run.SetAttributes(semconv.ErrorTypeKey.String(kind))
			o.run.SetStatus(codes.Error, e.Error)
		}
		o.run.End(trace.WithTimestamp(at))
		o.ended = true
		in.runsDone.Add(ctx, 1, metric.WithAttributes(attrs...))
		in.runDuration.Record(ctx, at.Sub(o.started).Seconds(), metric.WithAttributes(attrs...))
		if l := o.info.Logger; l != nil && !o.info.NoFinishLine {
			level := slog.LevelInfo
			if err != nil && kind != string(termination.KindCancelled) && kind != string(termination.KindShutdown) {
				// A run cancelled on purpose (Ctrl-C, a user, a shutdown) is no error of the service.
				level = slog.LevelError
			}
			la := append(o.logAttrs("", at.Sub(o.started)), UsageAttrs(e.Total)...)
			la = append(la, slog.String("stop_reason", e.StopReason), slog.String("stop_kind", kind))
			if err != nil {
				la = append(la, slog.String("error", e.Error))
			}
			l.LogAttrs(ctx, level, "run finished", la...)
		}
	}
}

// Wrap returns seq with every event observed on its way through. When the
// consumer stops early or the stream ends without run_finished, the open
// spans are ended as cancelled.
func (o *RunObserver) Wrap(ctx context.Context, seq iter.Seq2[team.Event, error]) iter.Seq2[team.Event, error] {
	return func(yield func(team.Event, error) bool) {
		defer o.End()
		for e, err := range seq {
			if err == nil {
				o.Observe(ctx, e)
			}
			if !yield(e, err) {
				return
			}
		}
	}
}

// End closes whatever is still open, marking the run cancelled; it does
// nothing after run_finished.
func (o *RunObserver) End() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ended || o.run == nil {
		return
	}
	now := time.Now()
	o.endStepLocked(&o.sel, now, nil)
	o.endStepLocked(&o.turn, now, nil)
	o.run.SetAttributes(AttrStopReason.String("cancelled"), AttrStopKind.String(string(termination.KindCancelled)))
	o.run.End(trace.WithTimestamp(now))
	o.ended = true
}

func (o *RunObserver) openStepLocked(name, speaker string, start time.Time) *step {
	attrs := []trace.SpanStartOption{trace.WithTimestamp(start)}
	if speaker != "" {
		attrs = append(attrs, trace.WithAttributes(semconv.GenAIOperationNameInvokeAgent, semconv.GenAIAgentName(speaker)))
	}
	_, span := o.p.tracerOrNoop().Start(o.runCtx, name, attrs...)
	return &step{span: span, speaker: speaker, start: start}
}

// endStepLocked ends *sp at the hook's done time when known, else at at.
func (o *RunObserver) endStepLocked(sp **step, at time.Time, err error) {
	st := *sp
	if st == nil {
		return
	}
	end := at
	if !st.end.IsZero() {
		end = st.end
	}
	if err != nil {
		st.span.SetStatus(codes.Error, err.Error())
	}
	st.span.End(trace.WithTimestamp(end))
	*sp = nil
}

func (o *RunObserver) teamAttrs() []attribute.KeyValue {
	if o.info.Team == "" {
		return nil
	}
	return []attribute.KeyValue{AttrTeam.String(o.info.Team)}
}

func (o *RunObserver) logAttrs(agent string, d time.Duration) []slog.Attr {
	attrs := make([]slog.Attr, 0, 8)
	if o.info.RunID != "" {
		attrs = append(attrs, slog.String("run_id", o.info.RunID))
	}
	if agent != "" {
		attrs = append(attrs, slog.String("agent", agent))
	}
	return append(attrs, DurationAttr(d))
}

type eventError string

func (e eventError) Error() string { return string(e) }
