package telemetry

import (
	"context"
	"iter"

	"github.com/newsroom-dev/newsroom/team"
)

// Instrument starts tracing one run on p: it returns the context to run it
// with (under the run's span), the run options that let the observer see
// the run's turns and selections (team.WithObserver), and a wrapper of the
// run's event stream that folds the events into spans, metrics and log
// lines and closes them when the stream ends. `newsroom run` and the
// service wire every run this way.
func Instrument(ctx context.Context, p *Provider, info RunInfo) (context.Context, []team.RunOption, func(iter.Seq2[team.Event, error]) iter.Seq2[team.Event, error]) {
	obs := NewRunObserver(p, info)
	rctx := obs.Start(ctx)
	return rctx, []team.RunOption{team.WithObserver(obs)},
		func(events iter.Seq2[team.Event, error]) iter.Seq2[team.Event, error] { return obs.Wrap(rctx, events) }
}
