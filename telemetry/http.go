package telemetry

import (
	"context"
	"fmt"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric"
)

// HTTPHandler wraps h so every request gets a SERVER span and the HTTP
// server metrics, with the provider's tracer, meter and propagator. Spans are
// named "METHOD pattern" from the ServeMux route when there is one.
func HTTPHandler(p *Provider, h http.Handler) http.Handler {
	return otelhttp.NewHandler(h, "http.server",
		otelhttp.WithTracerProvider(p.TracerProvider()),
		otelhttp.WithMeterProvider(p.MeterProvider()),
		otelhttp.WithPropagators(p.Propagator()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if r.Pattern != "" {
				return r.Pattern // ServeMux patterns such as "GET /runs/{id}" include the method
			}
			return r.Method
		}),
	)
}

// ObserveQuota registers an observable gauge newsroom.quota.used whose value
// is fraction() (0 to 1, the share of the deployment's token quota used in
// the current window). Call the returned func to unregister.
func (p *Provider) ObserveQuota(fraction func() float64) (func() error, error) {
	g, err := p.Meter().Float64ObservableGauge(MetricQuotaUsed, metric.WithUnit("1"),
		metric.WithDescription("Fraction of the token quota used in the current window."))
	if err != nil {
		return nil, fmt.Errorf("telemetry: %s: %w", MetricQuotaUsed, err)
	}
	reg, err := p.Meter().RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveFloat64(g, fraction())
		return nil
	}, g)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %s: %w", MetricQuotaUsed, err)
	}
	return reg.Unregister, nil
}

// ObserveQueueDepth registers an observable gauge newsroom.queue.depth whose
// value is depth() (runs waiting to start). Call the returned func to
// unregister.
func (p *Provider) ObserveQueueDepth(depth func() int64) (func() error, error) {
	g, err := p.Meter().Int64ObservableGauge(MetricQueueDepth, metric.WithUnit("{run}"),
		metric.WithDescription("Runs waiting in the queue."))
	if err != nil {
		return nil, fmt.Errorf("telemetry: %s: %w", MetricQueueDepth, err)
	}
	reg, err := p.Meter().RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(g, depth())
		return nil
	}, g)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %s: %w", MetricQueueDepth, err)
	}
	return reg.Unregister, nil
}
