package telemetry_test

import (
	"compress/gzip"
	"context"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/telemetry"
	"github.com/newsroom-dev/newsroom/termination"
)

// receiver keeps what an OTLP endpoint received.
type receiver struct {
	mu      sync.Mutex
	traces  []*coltracepb.ExportTraceServiceRequest
	metrics []*colmetricpb.ExportMetricsServiceRequest
}

// span is a received span flattened for assertions.
type span struct {
	name, service string
	attrs         map[string]*commonpb.AnyValue
}

func (r *receiver) spans() []span {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []span
	for _, req := range r.traces {
		for _, rs := range req.ResourceSpans {
			svc := attrMap(rs.GetResource().GetAttributes())["service.name"].GetStringValue()
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					out = append(out, span{name: s.Name, service: svc, attrs: attrMap(s.Attributes)})
				}
			}
		}
	}
	return out
}

func (r *receiver) metricNames() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := map[string]bool{}
	for _, req := range r.metrics {
		for _, rm := range req.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					names[m.Name] = true
				}
			}
		}
	}
	return names
}

func attrMap(kvs []*commonpb.KeyValue) map[string]*commonpb.AnyValue {
	m := make(map[string]*commonpb.AnyValue, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

// ServeHTTP is a minimal OTLP/HTTP (protobuf) receiver.
func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var resp proto.Message
	switch req.URL.Path {
	case "/v1/traces":
		m := &coltracepb.ExportTraceServiceRequest{}
		if err = proto.Unmarshal(b, m); err == nil {
			r.mu.Lock()
			r.traces = append(r.traces, m)
			r.mu.Unlock()
		}
		resp = &coltracepb.ExportTraceServiceResponse{}
	case "/v1/metrics":
		m := &colmetricpb.ExportMetricsServiceRequest{}
		if err = proto.Unmarshal(b, m); err == nil {
			r.mu.Lock()
			r.metrics = append(r.metrics, m)
			r.mu.Unlock()
		}
		resp = &colmetricpb.ExportMetricsServiceResponse{}
	default:
		http.NotFound(w, req)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out, _ := proto.Marshal(resp)
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func startHTTPReceiver(t *testing.T) (*receiver, string) {
	r := &receiver{}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv.URL
}

// TestOTLPExport runs a team with the model middleware against real OTLP
// receivers on loopback, configured only through OTEL_* variables.
func TestOTLPExport(t *testing.T) {
	tests := []struct {
		protocol string
		start    func(*testing.T) (*receiver, string)
	}{
		{"http/protobuf", startHTTPReceiver},
	}
	for _, tt := range tests {
		t.Run(tt.protocol, func(t *testing.T) {
			r, endpoint := tt.start(t)
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", tt.protocol)
			t.Setenv("OTEL_SERVICE_NAME", "newsroom-test")
			t.Setenv("OTEL_TRACES_EXPORTER", "")
			t.Setenv("OTEL_METRICS_EXPORTER", "")

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			p, err := telemetry.Setup(ctx, telemetry.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if !p.TracingEnabled() || !p.MetricsEnabled() {
				t.Fatal("OTEL_EXPORTER_OTLP_ENDPOINT did not enable export")
			}
			c := telemetry.Middleware(p, telemetry.MiddlewareOptions{})(fixedReply("copy"))
			tm, err := team.NewRoundRobin(team.RoundRobinConfig{
				Participants: []agent.Agent{assistant(t, "Reporter", c)},
				Termination:  termination.MaxMessages(1),
			})
			if err != nil {
				t.Fatal(err)
			}
			obs := telemetry.NewRunObserver(p, telemetry.RunInfo{RunID: "run-otlp", Team: tm.Name()})
			rctx := obs.Start(ctx)
			if _, err := team.Run(rctx, observed{tm, obs}, "Write about otters", team.WithRunID("run-otlp")); err != nil {
				t.Fatal(err)
			}
			if err := p.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}

			var chat *span
			names := map[string]bool{}
			for _, s := range r.spans() {
				names[s.name] = true
				if s.name == "chat gpt-4o" {
					chat = &s
				}
				if s.service != "newsroom-test" {
					t.Errorf("span %s service.name = %q", s.name, s.service)
				}
			}
			for _, want := range []string{telemetry.SpanRun, "invoke_agent Reporter", "chat gpt-4o"} {
				if !names[want] {
					t.Errorf("receiver lacks span %q (got %v)", want, names)
				}
			}
			if chat == nil {
				t.FailNow()
			}
			for k, want := range map[string]string{"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
				"gen_ai.response.model": "gpt-4o", "gen_ai.agent.name": "Reporter", "gen_ai.provider.name": "azure.ai.openai"} {
				if got := chat.attrs[k].GetStringValue(); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if got := chat.attrs["gen_ai.usage.input_tokens"].GetIntValue(); got != 10 {
				t.Errorf("input tokens = %d, want 10", got)
			}
			if got := chat.attrs["gen_ai.usage.output_tokens"].GetIntValue(); got != 5 {
				t.Errorf("output tokens = %d, want 5", got)
			}
			metrics := r.metricNames()
			for _, want := range []string{telemetry.MetricTokenUsage, telemetry.MetricOperationDuration, telemetry.MetricRunsFinished} {
				if !metrics[want] {
					t.Errorf("receiver lacks metric %s (got %v)", want, metrics)
				}
			}
		})
	}
}

// observed is a team whose stream goes through a RunObserver.
type observed struct {
	team.Team
	obs *telemetry.RunObserver
}

func (o observed) Stream(ctx context.Context, task string, opts ...team.RunOption) iter.Seq2[team.Event, error] {
	return o.obs.Wrap(ctx, o.Team.Stream(ctx, task, opts...))
}
