package telemetry

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// envDetector reads OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME through an
// injectable getenv (the SDK's own detector reads only the process environment).
type envDetector struct{ getenv func(string) string }

func (d envDetector) Detect(context.Context) (*resource.Resource, error) {
	var attrs []attribute.KeyValue
	if s := strings.TrimSpace(d.getenv("OTEL_RESOURCE_ATTRIBUTES")); s != "" {
		for _, pair := range strings.Split(s, ",") {
			k, v, ok := strings.Cut(pair, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" {
				return nil, fmt.Errorf("telemetry: OTEL_RESOURCE_ATTRIBUTES: malformed pair %q", pair)
			}
			if dv, err := url.PathUnescape(strings.TrimSpace(v)); err == nil {
				v = dv
			}
			attrs = append(attrs, attribute.String(k, strings.TrimSpace(v)))
		}
	}
	if s := strings.TrimSpace(d.getenv("OTEL_SERVICE_NAME")); s != "" {
		attrs = append(attrs, semconv.ServiceName(s))
	}
	return resource.NewSchemaless(attrs...), nil
}

// otelSetPropagator installs the propagator globally: otelhttp and the OTLP
// clients of other libraries read it from there.
func otelSetPropagator(p propagation.TextMapPropagator) { otel.SetTextMapPropagator(p) }
