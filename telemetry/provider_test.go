package telemetry_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/telemetry"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestSetup_Environment(t *testing.T) {
	tests := []struct {
		name                 string
		env                  map[string]string
		wantTraces, wantMets bool
		wantErr              error
	}{
		{name: "nothing configured exports nothing", env: nil},
		{name: "a general endpoint enables both signals", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}, wantTraces: true, wantMets: true},
		{name: "a traces endpoint enables traces only", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:1/v1/traces"}, wantTraces: true},
		{name: "a metrics endpoint over http/protobuf enables metrics only", env: map[string]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://127.0.0.1:1/v1/metrics", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, wantMets: true},
		{name: "grpc is refused: its exporters are not built in", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, wantErr: telemetry.ErrProtocol},
		{name: "grpc for one signal is refused too", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, wantErr: telemetry.ErrProtocol},
		{name: "exporter none wins over an endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_TRACES_EXPORTER": "none"}, wantMets: true},
		{name: "an unknown protocol is refused", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, wantErr: telemetry.ErrProtocol},
		{name: "an unknown exporter is refused", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, wantErr: telemetry.ErrExporter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := telemetry.Setup(context.Background(), telemetry.Config{Getenv: env(tt.env)})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				// The exporters point at a closed port: do not wait for them.
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				defer cancel()
				_ = p.Shutdown(ctx)
			}()
			if p.TracingEnabled() != tt.wantTraces || p.MetricsEnabled() != tt.wantMets {
				t.Errorf("tracing %v metrics %v, want %v %v", p.TracingEnabled(), p.MetricsEnabled(), tt.wantTraces, tt.wantMets)
			}
		})
	}
}

func TestSetup_NothingConfiguredIsNoop(t *testing.T) {
	p, err := telemetry.Setup(context.Background(), telemetry.Config{Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	c := telemetry.Middleware(p, telemetry.MiddlewareOptions{})(model.ClientFunc(func(ctx context.Context, _ *model.Request) (*model.Response, error) {
		if trace.SpanFromContext(ctx).IsRecording() {
			t.Error("a span records with nothing configured")
		}
		return &model.Response{}, nil
	}))
	if _, err := c.Complete(context.Background(), request()); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	p.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("/metrics without Prometheus = %d, want 404", rec.Code)
	}
}

func TestSetup_Resource(t *testing.T) {
	tp := mustProvider(t, telemetry.Config{ServiceVersion: "1.2.3", Getenv: env(map[string]string{
		"OTEL_SERVICE_NAME":        "newsroom-staging",
		"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=staging,team=desk%20one",
	})})
	_, span := tp.TracerProvider().Tracer("t").Start(context.Background(), "x")
	span.End()
	res := tp.ended(t)[0].Resource
	for k, want := range map[string]string{"service.name": "newsroom-staging", "service.version": "1.2.3", "deployment.environment.name": "staging", "team": "desk one"} {
		v, ok := res.Set().Value(attributeKey(k))
		if !ok || v.AsString() != want {
			t.Errorf("resource %s = %q, want %q", k, v.AsString(), want)
		}
	}
}

func TestProvider_MetricsHandler(t *testing.T) {
	p, err := telemetry.Setup(context.Background(), telemetry.Config{Prometheus: true, Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background()) //nolint:errcheck
	c := telemetry.Middleware(p, telemetry.MiddlewareOptions{})(answer(&model.Response{Model: "gpt-4o", Usage: model.Usage{PromptTokens: 5, CompletionTokens: 7}}, nil))
	if _, err := c.Complete(context.Background(), request()); err != nil {
		t.Fatal(err)
	}
	unreg, err := p.ObserveQueueDepth(func() int64 { return 3 })
	if err != nil {
		t.Fatal(err)
	}
	defer unreg() //nolint:errcheck
	srv := httptest.NewServer(p.MetricsHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"gen_ai_client_token_usage", "gen_ai_client_operation_duration_seconds", "newsroom_queue_depth", `gen_ai_token_type="output"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestProvider_Gauges(t *testing.T) {
	tp := mustProvider(t, telemetry.Config{})
	quota := 0.25
	unregQ, err := tp.ObserveQuota(func() float64 { return quota })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tp.ObserveQueueDepth(func() int64 { return 4 }); err != nil {
		t.Fatal(err)
	}
	quota = 0.85
	rm := tp.collect(t)
	q, ok := findMetric(rm, telemetry.MetricQuotaUsed)
	if !ok || q.Data.(metricdata.Gauge[float64]).DataPoints[0].Value != 0.85 {
		t.Errorf("quota gauge = %+v, want 0.85", q.Data)
	}
	d, ok := findMetric(rm, telemetry.MetricQueueDepth)
	if !ok || d.Data.(metricdata.Gauge[int64]).DataPoints[0].Value != 4 {
		t.Errorf("queue gauge = %+v, want 4", d.Data)
	}
	if err := unregQ(); err != nil {
		t.Fatal(err)
	}
	if _, ok := findMetric(tp.collect(t), telemetry.MetricQuotaUsed); ok {
		t.Error("quota gauge still observed after unregistering")
	}
}

func TestHTTPHandler(t *testing.T) {
	tp := mustProvider(t, telemetry.Config{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /runs/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !trace.SpanFromContext(r.Context()).SpanContext().IsValid() {
			t.Error("handler sees no span")
		}
		w.WriteHeader(http.StatusTeapot)
	})
	srv := httptest.NewServer(telemetry.HTTPHandler(tp.Provider, mux))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/runs/42")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	spans := tp.ended(t)
	if len(spans) != 1 {
		t.Fatalf("got %d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.SpanKind != trace.SpanKindServer || s.Name != "GET /runs/{id}" {
		t.Errorf("span %q kind %v, want \"GET /runs/{id}\" server", s.Name, s.SpanKind)
	}
	if v, _ := spanAttr(s.Attributes, "http.response.status_code"); v.AsInt64() != http.StatusTeapot {
		t.Errorf("status attribute = %v", v.String())
	}
}

// TestSetup_GRPCErrorSaysWhatToDo checks that the error for the protocol this
// build leaves out names the one it has and the variable to set.
func TestSetup_GRPCErrorSaysWhatToDo(t *testing.T) {
	_, err := telemetry.Setup(context.Background(), telemetry.Config{Getenv: env(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})})
	if err == nil {
		t.Fatal("Setup accepted grpc")
	}
	for _, want := range []string{`"grpc"`, "http/protobuf only", "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}
