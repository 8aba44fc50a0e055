package telemetry_test

import (
	"context"
	"log/slog"
	"net/http"
	"os"

	"github.com/newsroom-dev/newsroom/alerts"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/telemetry"
)

// Example shows the wiring of a service: providers from the OTEL_*
// environment, alerts fed by the model middleware, a run observed end to end.
func Example() {
	ctx := context.Background()
	p, err := telemetry.Setup(ctx, telemetry.Config{ServiceVersion: "dev", Prometheus: true})
	if err != nil {
		panic(err)
	}
	defer p.Shutdown(ctx) //nolint:errcheck // flush at exit

	log := telemetry.NewLogger(os.Stderr, "json", slog.LevelInfo)
	mon, err := alerts.New(alerts.Config{Logger: log, Meter: p.Meter()})
	if err != nil {
		panic(err)
	}

	var provider model.Client // the Azure OpenAI client, retry, cache... below
	client := model.Chain(provider, telemetry.Middleware(p, telemetry.MiddlewareOptions{
		ProviderName: telemetry.ProviderAzureOpenAI,
		OnCall:       mon.ObserveModelCall,
	}))
	_ = client // give it to the agents

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", p.MetricsHandler())
	_ = telemetry.HTTPHandler(p, mux) // serve this

	var t team.Team // desk.NewTeam(...)
	if t == nil {
		return
	}
	obs := telemetry.NewRunObserver(p, telemetry.RunInfo{RunID: "run-1", Team: t.Name(), Logger: log})
	rctx := obs.Start(ctx)
	for _, err := range obs.Wrap(rctx, t.Stream(rctx, "Write about otters", team.WithRunID("run-1"))) {
		if err != nil {
			log.ErrorContext(rctx, "run failed", "error", err)
		}
	}
}
