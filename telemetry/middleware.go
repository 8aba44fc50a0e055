package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/termination"
)

// Provider names for gen_ai.provider.name.
const (
	ProviderAzureOpenAI = "azure.ai.openai"
	ProviderOpenAI      = "openai"
)

// Attribute keys of this project (not part of the semantic conventions).
const (
	AttrPurpose     = attribute.Key("newsroom.purpose")
	AttrRunID       = attribute.Key("newsroom.run.id")
	AttrCached      = attribute.Key("newsroom.cached")
	AttrCacheResult = attribute.Key("newsroom.cache.result")
	AttrCostUSD     = attribute.Key("newsroom.cost_usd")
	// AttrReasoningTokens is the GenAI convention's
	// gen_ai.usage.reasoning.output_tokens (semantic conventions 1.41; the
	// 1.40 package this one uses predates it): a reasoning model's hidden
	// reasoning tokens, part of gen_ai.usage.output_tokens.
	AttrReasoningTokens = attribute.Key("gen_ai.usage.reasoning.output_tokens")
	// AttrReasoningEffort is the reasoning_effort a call asked for.
	AttrReasoningEffort = attribute.Key("gen_ai.request.reasoning.effort")
	AttrStopReason      = attribute.Key("newsroom.stop_reason")
	// AttrStopKind is the class of the stop reason (termination.Kind), from a
	// closed set: metrics carry it, never the reason itself, whose text may
	// hold what a request said (a budget, a mentioned word).
	AttrStopKind = attribute.Key("newsroom.stop_kind")
	AttrTeam     = attribute.Key("newsroom.team")
	AttrAttempt  = attribute.Key("newsroom.retry.attempt")
	// AttrDeployment names the pool deployment that answered a call.
	AttrDeployment = attribute.Key("newsroom.deployment")
	// AttrPoolReason is why a pool moved a call off a deployment (a closed
	// set: model/pool's Reason constants); AttrFailoverFrom the deployment
	// it left last, on the call's span.
	AttrPoolReason   = attribute.Key("newsroom.pool.reason")
	AttrFailoverFrom = attribute.Key("newsroom.pool.failover_from")
)

// MiddlewareOptions configures Middleware. The zero value describes Azure
// OpenAI with no server address and no call hook.
type MiddlewareOptions struct {
	// ProviderName is gen_ai.provider.name; empty means ProviderAzureOpenAI.
	ProviderName string
	// DefaultModel is gen_ai.request.model when a request leaves Model empty.
	DefaultModel string
	// ServerAddress and ServerPort describe the endpoint (server.address,
	// server.port); empty and 0 omit them.
	ServerAddress string
	ServerPort    int
	// OnCall, when set, is called after every call with its latency and
	// error; alerts.Monitor.ObserveModelCall fits here.
	OnCall func(latency time.Duration, err error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Middleware returns a model.Middleware that records a CLIENT span named
// "chat {model}" for every call, with the GenAI semantic-convention
// attributes, and the token-usage, duration, error, cache and cost metrics.
// Put it outermost so it sees cache hits and budget stops.
func Middleware(p *Provider, opts MiddlewareOptions) model.Middleware {
	if opts.ProviderName == "" {
		opts.ProviderName = ProviderAzureOpenAI
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return func(next model.Client) model.Client {
		if !p.TracingEnabled() && !p.MetricsEnabled() {
			// Nothing would be recorded: keep only the call hook.
			if opts.OnCall == nil {
				return next
			}
			return &timedClient{next: next, opts: opts}
		}
		return &tracedClient{next: next, p: p, opts: opts}
	}
}

// timedClient reports latency and errors to OnCall when telemetry is off.
type timedClient struct {
	next model.Client
	opts MiddlewareOptions
}

var _ model.Client = (*timedClient)(nil)

func (c *timedClient) Complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	start := c.opts.Now()
	resp, err := c.next.Complete(ctx, req)
	c.opts.OnCall(c.opts.Now().Sub(start), err)
	return resp, err
}

type tracedClient struct {
	next model.Client
	p    *Provider
	opts MiddlewareOptions
}

var _ model.Client = (*tracedClient)(nil)

func (c *tracedClient) Complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	reqModel := req.Model
	if reqModel == "" {
		reqModel = c.opts.DefaultModel
	}
	common := []attribute.KeyValue{
		semconv.GenAIOperationNameChat,
		semconv.GenAIProviderNameKey.String(c.opts.ProviderName),
		semconv.GenAIRequestModel(reqModel),
	}
	if c.opts.ServerAddress != "" {
		common = append(common, semconv.ServerAddress(c.opts.ServerAddress))
		if c.opts.ServerPort != 0 {
			common = append(common, semconv.ServerPort(c.opts.ServerPort))
		}
	}
	spanAttrs := append([]attribute.KeyValue(nil), common...)
	if req.Meta.Agent != "" {
		spanAttrs = append(spanAttrs, semconv.GenAIAgentName(req.Meta.Agent))
	}
	if req.Meta.RunID != "" {
		spanAttrs = append(spanAttrs, semconv.GenAIConversationID(req.Meta.RunID))
	}
	if req.Meta.Purpose != "" {
		spanAttrs = append(spanAttrs, AttrPurpose.String(string(req.Meta.Purpose)))
	}
	if req.MaxTokens > 0 {
		spanAttrs = append(spanAttrs, semconv.GenAIRequestMaxTokens(req.MaxTokens))
	}
	if req.Temperature != nil {
		spanAttrs = append(spanAttrs, semconv.GenAIRequestTemperature(*req.Temperature))
	}
	if req.ReasoningEffort != "" {
		spanAttrs = append(spanAttrs, AttrReasoningEffort.String(req.ReasoningEffort))
	}
	if req.TopP != nil {
		spanAttrs = append(spanAttrs, semconv.GenAIRequestTopP(*req.TopP))
	}
	if req.Seed != nil {
		spanAttrs = append(spanAttrs, semconv.GenAIRequestSeed(int(*req.Seed)))
	}
	if len(req.Stop) > 0 {
		spanAttrs = append(spanAttrs, semconv.GenAIRequestStopSequences(req.Stop...))
	}
	if req.JSONMode {
		spanAttrs = append(spanAttrs, semconv.GenAIOutputTypeJSON)
	}
	name := "chat"
	if reqModel != "" {
		name += " " + reqModel
	}
	ctx, span := c.p.tracerOrNoop().Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(spanAttrs...))
	defer span.End()
	capture := c.p != nil && c.p.captureContent && span.IsRecording()
	if capture {
		span.SetAttributes(semconv.GenAIInputMessagesKey.String(inputMessages(req.Messages)))
	}

	start := c.opts.Now()
	var firstChunk time.Duration // 0 until the first streamed text arrives
	if req.OnDelta != nil {
		cp, onDelta := *req, req.OnDelta
		cp.OnDelta = func(d model.Delta) {
			if firstChunk == 0 && d.Text != "" && !d.Restart {
				firstChunk = max(c.opts.Now().Sub(start), time.Nanosecond)
			}
			onDelta(d)
		}
		req = &cp
	}
	resp, err := c.next.Complete(ctx, req)
	elapsed := c.opts.Now().Sub(start)

	in := c.p.instruments()
	if firstChunk > 0 {
		in.firstChunk.Record(ctx, firstChunk.Seconds(), metric.WithAttributes(common...))
	}
	metricAttrs := common
	if resp != nil && resp.Model != "" {
		metricAttrs = append(metricAttrs[:len(metricAttrs):len(metricAttrs)], semconv.GenAIResponseModel(resp.Model))
	}
	if resp != nil && resp.Deployment != "" {
		// A pool chose the deployment: the answering endpoint is the
		// server, and the deployment a label (a closed set: the pool's).
		metricAttrs = append(metricAttrs[:len(metricAttrs):len(metricAttrs)], AttrDeployment.String(resp.Deployment))
		span.SetAttributes(AttrDeployment.String(resp.Deployment))
		if host, port := splitHostPort(resp.ServerAddress); host != "" {
			span.SetAttributes(semconv.ServerAddress(host))
			if port != 0 {
				span.SetAttributes(semconv.ServerPort(port))
			}
		}
	}
	if err != nil {
		et := ErrorType(err)
		span.SetAttributes(semconv.ErrorTypeKey.String(et))
		span.SetStatus(codes.Error, err.Error())
		metricAttrs = append(metricAttrs[:len(metricAttrs):len(metricAttrs)], semconv.ErrorTypeKey.String(et))
		errAttrs := []attribute.KeyValue{semconv.ErrorTypeKey.String(et)}
		var me *model.Error
		if errors.As(err, &me) && me.StatusCode != 0 {
			errAttrs = append(errAttrs, semconv.HTTPResponseStatusCode(me.StatusCode))
			span.SetAttributes(semconv.HTTPResponseStatusCode(me.StatusCode))
			if me.StatusCode == 429 {
				in.throttled.Add(ctx, 1, metric.WithAttributes(common...))
			}
		}
		if _, stop := model.AsStop(err); !stop {
			in.errors.Add(ctx, 1, metric.WithAttributes(append(errAttrs, common...)...))
		}
	}
	in.duration.Record(ctx, elapsed.Seconds(), metric.WithAttributes(metricAttrs...))
	if resp != nil {
		u := resp.Usage
		attrs := []attribute.KeyValue{
			semconv.GenAIUsageInputTokens(u.PromptTokens),
			semconv.GenAIUsageOutputTokens(u.CompletionTokens),
			AttrCached.Bool(resp.Cached),
		}
		if resp.Model != "" {
			attrs = append(attrs, semconv.GenAIResponseModel(resp.Model))
		}
		if resp.ID != "" {
			attrs = append(attrs, semconv.GenAIResponseID(resp.ID))
		}
		if resp.FinishReason != "" {
			attrs = append(attrs, semconv.GenAIResponseFinishReasons(resp.FinishReason))
		}
		if u.CachedPromptTokens > 0 {
			attrs = append(attrs, semconv.GenAIUsageCacheReadInputTokens(u.CachedPromptTokens))
		}
		if u.ReasoningTokens > 0 {
			attrs = append(attrs, AttrReasoningTokens.Int(u.ReasoningTokens))
		}
		if u.CostUSD > 0 {
			attrs = append(attrs, AttrCostUSD.Float64(u.CostUSD))
		}
		span.SetAttributes(attrs...)
		if capture {
			span.SetAttributes(semconv.GenAIOutputMessagesKey.String(outputMessages(resp)))
		}
		// A cache hit costs no tokens: recording zeros would skew the histogram.
		if !resp.Cached {
			in.tokens.Record(ctx, int64(u.PromptTokens), metric.WithAttributes(append(metricAttrs, semconv.GenAITokenTypeInput)...))
			in.tokens.Record(ctx, int64(u.CompletionTokens), metric.WithAttributes(append(metricAttrs, semconv.GenAITokenTypeOutput)...))
		}
		result := "miss"
		if resp.Cached {
			result = "hit"
		}
		in.cache.Add(ctx, 1, metric.WithAttributes(AttrCacheResult.String(result)))
		if u.CostUSD > 0 {
			in.cost.Add(ctx, u.CostUSD, metric.WithAttributes(common...))
		}
	}
	if c.opts.OnCall != nil {
		c.opts.OnCall(elapsed, err)
	}
	return resp, err
}

// ErrorType is the error.type value for a model-call error: the HTTP status
// for a service error ("429"), the stop reason for a graceful stop, "timeout"
// or "cancelled" for the context, "stream_cut" for a cut stream, and "_OTHER"
// otherwise.
func ErrorType(err error) string {
	if err == nil {
		return ""
	}
	var me *model.Error
	if errors.As(err, &me) {
		if me.StatusCode != 0 {
			return strconv.Itoa(me.StatusCode)
		}
		if me.Code != "" {
			return me.Code
		}
	}
	if reason, ok := model.AsStop(err); ok {
		return string(termination.KindOf(reason)) // a closed set: the reason may hold a request's budget
	}
	switch {
	case errors.Is(err, model.ErrStreamCut):
		return "stream_cut"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	return semconv.ErrorTypeOther.Value.AsString()
}

// RecordRetry counts one retried model call; wire it to the retry
// middleware's OnRetry hook. It also adds an event to the active span.
func (p *Provider) RecordRetry(ctx context.Context, attempt int, err error) {
	et := ErrorType(err)
	p.instruments().retries.Add(ctx, 1, metric.WithAttributes(semconv.ErrorTypeKey.String(et)))
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("retry", trace.WithAttributes(AttrAttempt.Int(attempt), semconv.ErrorTypeKey.String(et)))
	}
}

// RecordFailover counts a call moved off a pool deployment (from, one of
// the pool's names) for reason (one of model/pool's Reason constants); wire
// it to the pool's OnLeave hook. On the call's span it adds a "failover"
// event and sets newsroom.pool.failover_from and newsroom.pool.reason to
// the latest move.
func (p *Provider) RecordFailover(ctx context.Context, from, reason string) {
	attrs := []attribute.KeyValue{AttrDeployment.String(from), AttrPoolReason.String(reason)}
	p.instruments().failovers.Add(ctx, 1, metric.WithAttributes(attrs...))
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("failover", trace.WithAttributes(attrs...))
		span.SetAttributes(AttrFailoverFrom.String(from), AttrPoolReason.String(reason))
	}
}

// OnRetry fits model/retry's Config.OnRetry hook (which has no context):
// it counts the retry by error.type.
func (p *Provider) OnRetry(attempt int, err error, _ time.Duration) {
	p.RecordRetry(context.Background(), attempt, err)
}

// Message shapes of gen_ai.input.messages / gen_ai.output.messages.
type (
	capturedPart struct {
		Type    string `json:"type"`
		Content string `json:"content"`
	}
	capturedMessage struct {
		Role         string         `json:"role"`
		Name         string         `json:"name,omitempty"`
		Parts        []capturedPart `json:"parts"`
		FinishReason string         `json:"finish_reason,omitempty"`
	}
)

func inputMessages(msgs []model.Message) string {
	out := make([]capturedMessage, len(msgs))
	for i, m := range msgs {
		out[i] = capturedMessage{Role: string(m.Role), Name: m.Name, Parts: []capturedPart{{Type: "text", Content: m.Content}}}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func outputMessages(r *model.Response) string {
	b, _ := json.Marshal([]capturedMessage{{Role: string(model.RoleAssistant),
		Parts: []capturedPart{{Type: "text", Content: r.Content}}, FinishReason: r.FinishReason}})
	return string(b)
}

// splitHostPort splits "host[:port]"; the port is 0 when absent.
func splitHostPort(addr string) (string, int) {
	if addr == "" {
		return "", 0
	}
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	port, _ := strconv.Atoi(p)
	return host, port
}
