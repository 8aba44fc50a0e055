package telemetry_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/telemetry"
)

func TestMiddleware_PoolDeployment(t *testing.T) {
	tp := mustProvider(t, telemetry.Config{})
	c := telemetry.Middleware(tp.Provider, telemetry.MiddlewareOptions{ServerAddress: "configured.example", ServerPort: 443})(
		answer(&model.Response{Content: "x", Deployment: "secondary", ServerAddress: "contoso-swedencentral.openai.azure.com:8443",
			Usage: model.Usage{PromptTokens: 10, CompletionTokens: 5, Requests: 1}}, nil))
	if _, err := c.Complete(context.Background(), request()); err != nil {
		t.Fatal(err)
	}
	s := tp.ended(t)[0]
	for k, want := range map[string]string{"server.address": "contoso-swedencentral.openai.azure.com", "newsroom.deployment": "secondary"} {
		if v, ok := spanAttr(s.Attributes, k); !ok || v.AsString() != want {
			t.Errorf("span %s = %q, want %q", k, v.String(), want)
		}
	}
	if v, _ := spanAttr(s.Attributes, "server.port"); v.AsInt64() != 8443 {
		t.Errorf("span server.port = %v, want 8443", v.String())
	}
	m, ok := findMetric(tp.collect(t), telemetry.MetricOperationDuration)
	if !ok {
		t.Fatal("no duration metric")
	}
	dp := m.Data.(metricdata.Histogram[float64]).DataPoints[0]
	if v, ok := dp.Attributes.Value("newsroom.deployment"); !ok || v.AsString() != "secondary" {
		t.Errorf("duration metric deployment label = %q (present %v), want secondary", v.String(), ok)
	}
}
