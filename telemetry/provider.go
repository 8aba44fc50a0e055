// Package telemetry sets up OpenTelemetry tracing and metrics for newsroom and
// instruments its moving parts: a model.Middleware that follows the
// OpenTelemetry GenAI semantic conventions, a RunObserver that turns a team's
// event stream into run, turn and selector spans, HTTP server spans, and a
// slog handler that stamps trace ids on log lines and redacts secrets.
//
// Exporters are configured by the standard OTEL_* environment variables. When
// none is set the providers are no-ops, so instrumented code costs next to
// nothing.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// ScopeName is the instrumentation scope of everything this package records.
const ScopeName = "github.com/newsroom-dev/newsroom/telemetry"

// Errors returned by Setup.
var (
	ErrProtocol = errors.New("telemetry: unsupported OTLP protocol")
	ErrExporter = errors.New("telemetry: unsupported exporter")
)

// Config configures Setup. Every zero value is usable: with a zero Config and
// no OTEL_* variables set, Setup returns no-op providers.
type Config struct {
	// ServiceName is the service.name resource attribute when
	// OTEL_SERVICE_NAME does not set one; empty means "newsroom".
	ServiceName string
	// ServiceVersion is the service.version resource attribute; empty omits it.
	ServiceVersion string
	// Prometheus, when true, adds a Prometheus reader so MetricsHandler
	// serves /metrics (metrics are then recorded even without OTLP).
	Prometheus bool
	// CaptureContent records prompts and completions on model-call spans
	// (gen_ai.input.messages, gen_ai.output.messages). Off by default:
	// article text may be confidential.
	CaptureContent bool

	// SpanExporter and MetricReader, when set, are used in addition to what
	// the environment configures; tests pass in-memory ones here.
	SpanExporter sdktrace.SpanExporter
	MetricReader sdkmetric.Reader
	// Getenv reads the OTEL_* variables above; nil means os.Getenv. The
	// OTLP exporters read the rest (headers, TLS files, timeouts,
	// compression) from the process environment themselves.
	Getenv func(string) string
}

// Provider holds the tracer and meter providers and the instruments newsroom
// records with. A nil *Provider is valid and records nothing.
type Provider struct {
	tp             trace.TracerProvider
	mp             metric.MeterProvider
	tracer         trace.Tracer
	meter          metric.Meter
	prop           propagation.TextMapPropagator
	metricsHandler http.Handler
	captureContent bool
	inst           *instruments
	shutdowns      []func(context.Context) error
	flushes        []func(context.Context) error
	tracing        bool
	metrics        bool
}

// Setup builds the providers from cfg and the OTEL_* environment:
//
//   - OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and
//     OTEL_EXPORTER_OTLP_METRICS_ENDPOINT switch OTLP export on for the
//     signals they cover; OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER set to
//     "otlp" switch it on with the default endpoint, "none" switches it off.
//   - OTEL_EXPORTER_OTLP_PROTOCOL (and the per-signal _PROTOCOL variables)
//     may only be "http/protobuf" (the default): the OTLP gRPC exporters are
//     not built in, as they would add most of gRPC to the binary and a third
//     to its build time; "grpc" is refused with an error saying so.
//   - OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES fill the resource.
//
// It sets the global text-map propagator (W3C trace context and baggage) and
// nothing else global. Call Shutdown to flush and stop the exporters.
func Setup(ctx context.Context, cfg Config) (*Provider, error) {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	traceExp, err := otlpChoice(getenv, "TRACES")
	if err != nil {
		return nil, err
	}
	metricExp, err := otlpChoice(getenv, "METRICS")
	if err != nil {
		return nil, err
	}
	p := &Provider{
		captureContent: cfg.CaptureContent,
		prop:           propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
	fail := func(err error) (*Provider, error) {
		_ = p.Shutdown(ctx)
		return nil, err
	}
	var res *resource.Resource
	if traceExp != "" || metricExp != "" || cfg.SpanExporter != nil || cfg.MetricReader != nil || cfg.Prometheus {
		res, err = newResource(ctx, cfg, getenv)
		if err != nil {
			return fail(err)
		}
	}

	// Traces.
	var spanExporters []sdktrace.SpanExporter
	if traceExp != "" {
		exp, err := newTraceExporter(ctx, traceExp, endpointURL(getenv, "TRACES", traceExp))
		if err != nil {
			return fail(err)
		}
		spanExporters = append(spanExporters, exp)
	}
	if cfg.SpanExporter != nil {
		spanExporters = append(spanExporters, cfg.SpanExporter)
	}
	if len(spanExporters) > 0 {
		opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
		for _, e := range spanExporters {
			opts = append(opts, sdktrace.WithBatcher(e))
		}
		tp := sdktrace.NewTracerProvider(opts...)
		p.tp, p.tracing = tp, true
		p.shutdowns = append(p.shutdowns, tp.Shutdown)
		p.flushes = append(p.flushes, tp.ForceFlush)
	} else {
		p.tp = tracenoop.NewTracerProvider()
	}

	// Metrics.
	var readers []sdkmetric.Reader
	if metricExp != "" {
		exp, err := newMetricExporter(ctx, metricExp, endpointURL(getenv, "METRICS", metricExp))
		if err != nil {
			return fail(err)
		}
		readers = append(readers, sdkmetric.NewPeriodicReader(exp))
	}
	if cfg.MetricReader != nil {
		readers = append(readers, cfg.MetricReader)
	}
	if cfg.Prometheus {
		reg := prometheus.NewRegistry()
		exp, err := otelprom.New(otelprom.WithRegisterer(reg))
		if err != nil {
			return fail(fmt.Errorf("telemetry: prometheus exporter: %w", err))
		}
		readers = append(readers, exp)
		p.metricsHandler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	}
	if len(readers) > 0 {
		opts := []sdkmetric.Option{sdkmetric.WithResource(res)}
		for _, r := range readers {
			opts = append(opts, sdkmetric.WithReader(r))
		}
		mp := sdkmetric.NewMeterProvider(opts...)
		p.mp, p.metrics = mp, true
		p.shutdowns = append(p.shutdowns, mp.Shutdown)
		p.flushes = append(p.flushes, mp.ForceFlush)
	} else {
		p.mp = metricnoop.NewMeterProvider()
	}

	p.tracer = p.tp.Tracer(ScopeName)
	p.meter = p.mp.Meter(ScopeName)
	p.inst, err = newInstruments(p.meter)
	if err != nil {
		return fail(err)
	}
	otelSetPropagator(p.prop)
	return p, nil
}

// otlpChoice returns the OTLP protocol to export a signal with, or "" when
// the signal is not exported.
func otlpChoice(getenv func(string) string, signal string) (string, error) {
	switch e := strings.TrimSpace(strings.ToLower(getenv("OTEL_" + signal + "_EXPORTER"))); e {
	case "none":
		return "", nil
	case "otlp":
		// explicitly on: the exporter's default endpoint applies when none is set
	case "":
		if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_"+signal+"_ENDPOINT") == "" {
			return "", nil
		}
	default:
		return "", fmt.Errorf("%w %q in OTEL_%s_EXPORTER (want otlp or none)", ErrExporter, e, signal)
	}
	proto := getenv("OTEL_EXPORTER_OTLP_" + signal + "_PROTOCOL")
	if proto == "" {
		proto = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	switch proto = strings.TrimSpace(strings.ToLower(proto)); proto {
	case "", "http/protobuf":
		return "http/protobuf", nil
	case "grpc":
		return "", fmt.Errorf("%w %q: newsroom exports OTLP over http/protobuf only (an OpenTelemetry Collector listens for it on port 4318); set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf", ErrProtocol, proto)
	default:
		return "", fmt.Errorf("%w %q (want http/protobuf)", ErrProtocol, proto)
	}
}

// endpointURL is the endpoint a signal's exporter sends to, read through
// getenv with the precedence the OTLP exporter specification gives: the
// signal's own variable is used as is, the general one gets the signal's
// path appended for HTTP. "" leaves the exporter's default.
func endpointURL(getenv func(string) string, signal, proto string) string {
	if u := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_" + signal + "_ENDPOINT")); u != "" {
		return u
	}
	u := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT"))
	if u == "" {
		return u
	}
	return strings.TrimSuffix(u, "/") + "/v1/" + strings.ToLower(signal)
}

func newTraceExporter(ctx context.Context, proto, endpoint string) (sdktrace.SpanExporter, error) {
	var (
		exp sdktrace.SpanExporter
		err error
	)
	if endpoint != "" {
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	} else {
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP trace exporter (%s): %w", proto, err)
	}
	return exp, nil
}

func newMetricExporter(ctx context.Context, proto, endpoint string) (sdkmetric.Exporter, error) {
	var (
		exp sdkmetric.Exporter
		err error
	)
	if endpoint != "" {
		exp, err = otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(endpoint))
	} else {
		exp, err = otlpmetrichttp.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP metric exporter (%s): %w", proto, err)
	}
	return exp, nil
}

func newResource(ctx context.Context, cfg Config, getenv func(string) string) (*resource.Resource, error) {
	name := cfg.ServiceName
	if name == "" {
		name = "newsroom"
	}
	attrs := []resource.Option{
		resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName(name)),
	}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, resource.WithAttributes(semconv.ServiceVersion(cfg.ServiceVersion)))
	}
	// The environment wins over the defaults above: options apply in order.
	attrs = append(attrs, resource.WithDetectors(envDetector{getenv}))
	res, err := resource.New(ctx, attrs...)
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	return res, nil
}

// Shutdown flushes pending spans and metrics and stops the exporters. It is
// safe on a nil Provider and on no-op providers.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil {
		return nil
	}
	var errs []error
	for _, f := range p.shutdowns {
		if err := f(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	p.shutdowns = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("telemetry: shutdown: %w", err)
	}
	return nil
}

// ForceFlush exports everything recorded so far.
func (p *Provider) ForceFlush(ctx context.Context) error {
	if p == nil {
		return nil
	}
	var errs []error
	for _, f := range p.flushes {
		if err := f(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("telemetry: flush: %w", err)
	}
	return nil
}

// TracerProvider returns the tracer provider (a no-op one when tracing is off).
func (p *Provider) TracerProvider() trace.TracerProvider {
	if p == nil {
		return tracenoop.NewTracerProvider()
	}
	return p.tp
}

// MeterProvider returns the meter provider (a no-op one when metrics are off).
func (p *Provider) MeterProvider() metric.MeterProvider {
	if p == nil {
		return metricnoop.NewMeterProvider()
	}
	return p.mp
}

// Meter returns the meter newsroom records with; other packages (alerts)
// create their instruments from it.
func (p *Provider) Meter() metric.Meter { return p.MeterProvider().Meter(ScopeName) }

// Propagator returns the text-map propagator (W3C trace context and baggage).
func (p *Provider) Propagator() propagation.TextMapPropagator {
	if p == nil {
		return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	return p.prop
}

// TracingEnabled reports whether spans are exported anywhere.
func (p *Provider) TracingEnabled() bool { return p != nil && p.tracing }

// MetricsEnabled reports whether metrics are read by any exporter.
func (p *Provider) MetricsEnabled() bool { return p != nil && p.metrics }

// MetricsHandler serves the Prometheus exposition of newsroom's metrics. It
// answers 404 when Config.Prometheus was not set.
func (p *Provider) MetricsHandler() http.Handler {
	if p == nil || p.metricsHandler == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "metrics are not enabled", http.StatusNotFound)
		})
	}
	return p.metricsHandler
}

func (p *Provider) instruments() *instruments {
	if p == nil || p.inst == nil {
		return noopInstruments
	}
	return p.inst
}

func (p *Provider) tracerOrNoop() trace.Tracer {
	if p == nil || p.tracer == nil {
		return tracenoop.NewTracerProvider().Tracer(ScopeName)
	}
	return p.tracer
}
