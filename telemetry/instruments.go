package telemetry

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
)

// Metric names. The gen_ai.* ones follow the OpenTelemetry GenAI semantic
// conventions; the newsroom.* ones are this project's.
const (
	MetricTokenUsage        = "gen_ai.client.token.usage"
	MetricOperationDuration = "gen_ai.client.operation.duration"
	// MetricTimeToFirstChunk is recorded for streamed calls only, as the
	// GenAI conventions ask.
	MetricTimeToFirstChunk = "gen_ai.client.operation.time_to_first_chunk"
	MetricModelErrors      = "newsroom.model.errors"
	MetricModelThrottled   = "newsroom.model.throttled"
	MetricModelRetries     = "newsroom.model.retries"
	MetricCacheLookups     = "newsroom.model.cache.lookups"
	MetricCost             = "newsroom.model.cost"
	MetricRunsStarted      = "newsroom.runs.started"
	MetricRunsFinished     = "newsroom.runs.finished"
	MetricRunDuration      = "newsroom.run.duration"
	MetricQuotaUsed        = "newsroom.quota.used"
	MetricQueueDepth       = "newsroom.queue.depth"
	// MetricPoolFailovers counts calls that passed a pool deployment by or
	// left it, by newsroom.deployment (the one left) and
	// newsroom.pool.reason (model/pool's Reason constants).
	MetricPoolFailovers = "newsroom.pool.failovers"
	// MetricSimilarLookups counts similarity-cache lookups by
	// newsroom.cache.result (hit, miss, refused_fingerprint);
	// MetricSimilarEmbeddingTokens the tokens sent to the embeddings
	// deployment for them.
	// MetricSecurityEvents counts a run's security events (a fetch without
	// provenance, a redirect off-site, a neutralised boundary) by
	// newsroom.security.kind, a closed set (untrusted.Kinds, else "other").
	MetricSecurityEvents         = "newsroom.security.events"
	MetricSimilarLookups         = "newsroom.cache.similar.lookups"
	MetricSimilarEmbeddingTokens = "newsroom.cache.similar.embedding_tokens"
)

// Bucket boundaries the GenAI conventions recommend.
var (
	tokenBuckets    = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}
	durationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
	runBuckets      = []float64{1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600}
)

type instruments struct {
	tokens      metric.Int64Histogram
	duration    metric.Float64Histogram
	errors      metric.Int64Counter
	throttled   metric.Int64Counter
	retries     metric.Int64Counter
	cache       metric.Int64Counter
	cost        metric.Float64Counter
	runsStarted metric.Int64Counter
	runsDone    metric.Int64Counter
	runDuration metric.Float64Histogram
	firstChunk  metric.Float64Histogram
	failovers   metric.Int64Counter
	security    metric.Int64Counter
}

var noopInstruments = func() *instruments {
	in, err := newInstruments(metricnoop.NewMeterProvider().Meter(ScopeName))
	if err != nil {
		panic(err) // no-op instruments cannot fail
	}
	return in
}()

func newInstruments(m metric.Meter) (*instruments, error) {
	var in instruments
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	in.tokens, err = m.Int64Histogram(MetricTokenUsage, metric.WithUnit("{token}"),
		metric.WithDescription("Number of input and output tokens used."),
		metric.WithExplicitBucketBoundaries(tokenBuckets...))
	add(err)
	in.duration, err = m.Float64Histogram(MetricOperationDuration, metric.WithUnit("s"),
		metric.WithDescription("GenAI operation duration."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	add(err)
	in.firstChunk, err = m.Float64Histogram(MetricTimeToFirstChunk, metric.WithUnit("s"),
		metric.WithDescription("Time from the request to the first chunk of a streamed answer."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	add(err)
	in.errors, err = m.Int64Counter(MetricModelErrors, metric.WithUnit("{error}"),
		metric.WithDescription("Failed model calls by error.type (the HTTP status for service errors)."))
	add(err)
	in.throttled, err = m.Int64Counter(MetricModelThrottled, metric.WithUnit("{response}"),
		metric.WithDescription("Model calls refused with HTTP 429 (quota or rate limit)."))
	add(err)
	in.retries, err = m.Int64Counter(MetricModelRetries, metric.WithUnit("{retry}"),
		metric.WithDescription("Model calls retried after a transient failure."))
	add(err)
	in.cache, err = m.Int64Counter(MetricCacheLookups, metric.WithUnit("{lookup}"),
		metric.WithDescription("Model calls by newsroom.cache.result (hit or miss)."))
	add(err)
	in.cost, err = m.Float64Counter(MetricCost, metric.WithUnit("USD"),
		metric.WithDescription("Price of the tokens used, in US dollars."))
	add(err)
	in.runsStarted, err = m.Int64Counter(MetricRunsStarted, metric.WithUnit("{run}"),
		metric.WithDescription("Runs started."))
	add(err)
	in.runsDone, err = m.Int64Counter(MetricRunsFinished, metric.WithUnit("{run}"),
		metric.WithDescription("Runs finished, by newsroom.stop_kind (the class of the stop reason)."))
	add(err)
	in.runDuration, err = m.Float64Histogram(MetricRunDuration, metric.WithUnit("s"),
		metric.WithDescription("Run duration."), metric.WithExplicitBucketBoundaries(runBuckets...))
	add(err)
	in.failovers, err = m.Int64Counter(MetricPoolFailovers, metric.WithUnit("{failover}"),
		metric.WithDescription("Calls a pool moved off a deployment, by newsroom.deployment (the one left) and newsroom.pool.reason "+
			"(spill_over, circuit_open, throttled, server_error, timeout, connection)."))
	add(err)
	in.security, err = m.Int64Counter(MetricSecurityEvents, metric.WithUnit("{event}"),
		metric.WithDescription("Security events of runs (refused fetches, neutralised boundaries), by newsroom.security.kind."))
	add(err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("telemetry: instruments: %w", err)
	}
	return &in, nil
}
