package telemetry_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/telemetry"
)

func answer(resp *model.Response, err error) model.Client {
	return model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) { return resp, err })
}

func request() *model.Request {
	return &model.Request{
		Model:    "gpt-4o",
		Messages: []model.Message{{Role: model.RoleSystem, Content: "You are the Reporter."}, {Role: model.RoleUser, Content: "SECRET-PROMPT"}},
		Meta:     model.Meta{RunID: "run-1", Agent: "Reporter", Purpose: model.PurposeReply},
	}
}

func TestMiddleware_Success(t *testing.T) {
	tp := mustProvider(t, telemetry.Config{})
	var calls []time.Duration
	c := model.Chain(answer(&model.Response{ID: "chatcmpl-1", Model: "gpt-4o-2024-08-06", Content: "SECRET-COMPLETION", FinishReason: "stop",
		Usage: model.Usage{PromptTokens: 120, CompletionTokens: 30, Requests: 1, CostUSD: 0.0015}}, nil),
		telemetry.Middleware(tp.Provider, telemetry.MiddlewareOptions{ProviderName: telemetry.ProviderOpenAI,
			OnCall: func(d time.Duration, err error) {
				if err != nil {
					t.Errorf("OnCall err = %v", err)
				}
				calls = append(calls, d)
			}}))
	if _, err := c.Complete(context.Background(), request()); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 {
		t.Errorf("OnCall called %d times, want 1", len(calls))
	}
	spans := tp.ended(t)
	if len(spans) != 1 {
		t.Fatalf("got %d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Name != "chat gpt-4o" || s.SpanKind != trace.SpanKindClient {
		t.Errorf("span = %q kind %v, want \"chat gpt-4o\" client", s.Name, s.SpanKind)
	}
	want := map[string]attribute.Value{
		"gen_ai.operation.name":          attribute.StringValue("chat"),
		"gen_ai.provider.name":           attribute.StringValue("openai"),
		"gen_ai.request.model":           attribute.StringValue("gpt-4o"),
		"gen_ai.response.model":          attribute.StringValue("gpt-4o-2024-08-06"),
		"gen_ai.response.id":             attribute.StringValue("chatcmpl-1"),
		"gen_ai.usage.input_tokens":      attribute.IntValue(120),
		"gen_ai.usage.output_tokens":     attribute.IntValue(30),
		"gen_ai.response.finish_reasons": attribute.StringSliceValue([]string{"stop"}),
		"gen_ai.agent.name":              attribute.StringValue("Reporter"),
		"gen_ai.conversation.id":         attribute.StringValue("run-1"),
	}
	for k, v := range want {
		got, ok := spanAttr(s.Attributes, k)
		if !ok || got != v {
			t.Errorf("attribute %s = %v (present %v), want %v", k, got.String(), ok, v.String())
		}
	}
	for _, kv := range s.Attributes {
		if strings.Contains(kv.Value.String(), "SECRET-") {
			t.Errorf("attribute %s carries content without CaptureContent", kv.Key)
		}
	}

	rm := tp.collect(t)
	m, ok := findMetric(rm, telemetry.MetricTokenUsage)
	if !ok {
		t.Fatalf("no %s metric", telemetry.MetricTokenUsage)
	}
	if m.Unit != "{token}" {
		t.Errorf("token usage unit = %q", m.Unit)
	}
	got := map[string]int64{}
	for _, dp := range m.Data.(metricdata.Histogram[int64]).DataPoints {
		typ, _ := dp.Attributes.Value("gen_ai.token.type")
		got[typ.AsString()] += dp.Sum
	}
	if diff := cmp.Diff(map[string]int64{"input": 120, "output": 30}, got); diff != "" {
		t.Errorf("token usage by type (-want +got):\n%s", diff)
	}
	d, ok := findMetric(rm, telemetry.MetricOperationDuration)
	if !ok || d.Unit != "s" {
		t.Fatalf("duration metric missing or unit %q", d.Unit)
	}
	if n := d.Data.(metricdata.Histogram[float64]).DataPoints[0].Count; n != 1 {
		t.Errorf("duration count = %d, want 1", n)
	}
	if n := sumInt(t, rm, telemetry.MetricCacheLookups, attribute.String("newsroom.cache.result", "miss")); n != 1 {
		t.Errorf("cache misses = %d, want 1", n)
	}
	cost, ok := findMetric(rm, telemetry.MetricCost)
	if !ok || cost.Data.(metricdata.Sum[float64]).DataPoints[0].Value != 0.0015 {
		t.Errorf("cost metric = %+v, want 0.0015", cost.Data)
	}
}

func TestMiddleware_Errors(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantType  string
		throttled int64
		errors    int64
	}{
		{"a 429 counts as throttled and as an error", &model.Error{StatusCode: 429, Code: "429", Message: "quota"}, "429", 1, 1},
		{"a 401 is an error with its status", &model.Error{StatusCode: 401, Message: "no"}, "401", 0, 1},
		{"a cut stream", model.ErrStreamCut, "stream_cut", 0, 1},
		{"a budget stop is no error, typed by its kind", stopErr("budget: the next call could cost up to $0.04, which would cross the run budget of $0.001234"), "budget", 0, 0},
		{"anything else", errors.New("boom"), "_OTHER", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := mustProvider(t, telemetry.Config{})
			c := telemetry.Middleware(tp.Provider, telemetry.MiddlewareOptions{})(answer(nil, tt.err))
			if _, err := c.Complete(context.Background(), request()); !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v passed through", err, tt.err)
			}
			s := tp.ended(t)[0]
			if et, _ := spanAttr(s.Attributes, "error.type"); et.AsString() != tt.wantType {
				t.Errorf("error.type = %q, want %q", et.AsString(), tt.wantType)
			}
			if s.Status.Code != codes.Error {
				t.Errorf("status = %v, want Error", s.Status.Code)
			}
			if pn, _ := spanAttr(s.Attributes, "gen_ai.provider.name"); pn.AsString() != "azure.ai.openai" {
				t.Errorf("default provider = %q", pn.AsString())
			}
			rm := tp.collect(t)
			if n := sumInt(t, rm, telemetry.MetricModelThrottled); n != tt.throttled {
				t.Errorf("throttled = %d, want %d", n, tt.throttled)
			}
			if n := sumInt(t, rm, telemetry.MetricModelErrors, attribute.String("error.type", tt.wantType)); n != tt.errors {
				t.Errorf("errors = %d, want %d", n, tt.errors)
			}
		})
	}
}

type stopErr string

func (s stopErr) Error() string      { return "budget: stop " + string(s) }
func (s stopErr) StopReason() string { return string(s) }

func TestMiddleware_CacheHit(t *testing.T) {
	tp := mustProvider(t, telemetry.Config{})
	c := telemetry.Middleware(tp.Provider, telemetry.MiddlewareOptions{})(answer(&model.Response{Content: "x", Cached: true, Usage: model.Usage{Requests: 1, CachedResponses: 1}}, nil))
	if _, err := c.Complete(context.Background(), request()); err != nil {
		t.Fatal(err)
	}
	rm := tp.collect(t)
	if n := sumInt(t, rm, telemetry.MetricCacheLookups, attribute.String("newsroom.cache.result", "hit")); n != 1 {
		t.Errorf("cache hits = %d, want 1", n)
	}
	if m, ok := findMetric(rm, telemetry.MetricTokenUsage); ok && len(m.Data.(metricdata.Histogram[int64]).DataPoints) > 0 {
		t.Errorf("a cache hit recorded token usage: %+v", m.Data)
	}
	if v, _ := spanAttr(tp.ended(t)[0].Attributes, "newsroom.cached"); !v.AsBool() {
		t.Error("span does not say cached")
	}
}

func TestMiddleware_CaptureContent(t *testing.T) {
	tp := mustProvider(t, telemetry.Config{CaptureContent: true})
	c := telemetry.Middleware(tp.Provider, telemetry.MiddlewareOptions{})(answer(&model.Response{Content: "SECRET-COMPLETION"}, nil))
	if _, err := c.Complete(context.Background(), request()); err != nil {
		t.Fatal(err)
	}
	s := tp.ended(t)[0]
	in, _ := spanAttr(s.Attributes, "gen_ai.input.messages")
	out, _ := spanAttr(s.Attributes, "gen_ai.output.messages")
	if !strings.Contains(in.AsString(), "SECRET-PROMPT") || !strings.Contains(out.AsString(), "SECRET-COMPLETION") {
		t.Errorf("content not captured: input %q output %q", in.AsString(), out.AsString())
	}
}

func TestProvider_RecordRetry(t *testing.T) {
	tp := mustProvider(t, telemetry.Config{})
	tp.RecordRetry(context.Background(), 1, &model.Error{StatusCode: 429})
	tp.RecordRetry(context.Background(), 2, &model.Error{StatusCode: 503})
	rm := tp.collect(t)
	if n := sumInt(t, rm, telemetry.MetricModelRetries); n != 2 {
		t.Errorf("retries = %d, want 2", n)
	}
	if n := sumInt(t, rm, telemetry.MetricModelRetries, attribute.String("error.type", "429")); n != 1 {
		t.Errorf("429 retries = %d, want 1", n)
	}
}

func TestNilProvider_RecordsNothing(t *testing.T) {
	c := telemetry.Middleware(nil, telemetry.MiddlewareOptions{})(answer(&model.Response{Content: "ok"}, nil))
	if _, err := c.Complete(context.Background(), request()); err != nil {
		t.Fatal(err)
	}
	var p *telemetry.Provider
	if p.TracingEnabled() || p.MetricsEnabled() {
		t.Error("nil provider says it is enabled")
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestMiddleware_TimeToFirstChunkOnlyForStreams(t *testing.T) {
	tp := mustProvider(t, telemetry.Config{})
	now := time.Unix(0, 0)
	clock := func() time.Time { return now }
	streamer := model.ClientFunc(func(_ context.Context, r *model.Request) (*model.Response, error) {
		now = now.Add(300 * time.Millisecond) // time to the first chunk
		if r.OnDelta != nil {
			r.OnDelta(model.Delta{Text: "Hello"})
			now = now.Add(time.Second)
			r.OnDelta(model.Delta{Text: " world"})
		}
		return &model.Response{Content: "Hello world", Model: "gpt-4o"}, nil
	})
	c := telemetry.Middleware(tp.Provider, telemetry.MiddlewareOptions{Now: clock})(streamer)
	var got string
	req := &model.Request{Model: "gpt-4o", Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}},
		OnDelta: func(d model.Delta) { got += d.Text }}
	if _, err := c.Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if got != "Hello world" {
		t.Fatalf("deltas reaching the caller = %q", got)
	}
	req.OnDelta = nil // a non-streamed call records no first chunk
	if _, err := c.Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	m, ok := findMetric(tp.collect(t), telemetry.MetricTimeToFirstChunk)
	if !ok {
		t.Fatal("no time-to-first-chunk metric")
	}
	dp := m.Data.(metricdata.Histogram[float64]).DataPoints
	if len(dp) != 1 || dp[0].Count != 1 || dp[0].Sum != 0.3 {
		t.Fatalf("time to first chunk = %+v, want one 0.3 s sample", dp)
	}
}

func TestMiddleware_ReasoningTokensAndEffort(t *testing.T) {
	tp := mustProvider(t, telemetry.Config{})
	c := model.Chain(answer(&model.Response{Model: "gpt-5-2025-08-07", Content: "x", FinishReason: "stop",
		Usage: model.Usage{PromptTokens: 100, CompletionTokens: 400, ReasoningTokens: 320, Requests: 1}}, nil),
		telemetry.Middleware(tp.Provider, telemetry.MiddlewareOptions{ProviderName: telemetry.ProviderOpenAI}))
	req := request()
	req.ReasoningEffort = "low"
	if _, err := c.Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	s := tp.ended(t)[0]
	for k, v := range map[string]attribute.Value{
		"gen_ai.usage.output_tokens":           attribute.IntValue(400),
		"gen_ai.usage.reasoning.output_tokens": attribute.IntValue(320),
		"gen_ai.request.reasoning.effort":      attribute.StringValue("low"),
	} {
		if got, ok := spanAttr(s.Attributes, k); !ok || got != v {
			t.Errorf("attribute %s = %v (present %v), want %v", k, got.String(), ok, v.String())
		}
	}
}
