package web

import (
	"cmp"
	"context"
	"errors"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/untrusted"
)

// provenance refuses, before any connection, a URL the run in ctx has not
// seen (see untrusted.Run.Check). Outside a run (the sources a person gives
// before it starts) every URL passes.
func (f *Fetcher) provenance(ctx context.Context, name, raw string) error {
	run := untrusted.From(ctx)
	if run == nil {
		return nil
	}
	err := run.Check(raw)
	var np *untrusted.NoProvenanceError
	if errors.As(err, &np) {
		f.refused(ctx, name, np)
		return np
	}
	return err
}

type toolNameKey struct{}

// withTool names the tool a fetch is for, so a refusal deep in a redirect
// can say which tool's call it was.
func withTool(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, toolNameKey{}, name)
}

func toolOf(ctx context.Context) string {
	n, _ := ctx.Value(toolNameKey{}).(string)
	return n
}

// refused logs a refusal and reports it to the run as a security event.
func (f *Fetcher) refused(ctx context.Context, name string, np *untrusted.NoProvenanceError) {
	name = cmp.Or(name, toolOf(ctx))
	runID := ""
	if m, ok := model.MetaFrom(ctx); ok {
		runID = m.RunID
	}
	f.log.WarnContext(ctx, "fetch refused: no provenance", "run", runID, "tool", name, "url", np.URL, "kind", np.Kind)
	if run := untrusted.From(ctx); run != nil {
		run.Report(untrusted.Event{Kind: np.Kind, Tool: name, URL: np.URL, Detail: np.Error()})
	}
}

// record adds what a document this run fetched links to, as it had them,
// to the run's provenance.
func record(ctx context.Context, urls ...string) {
	run := untrusted.From(ctx)
	if run == nil {
		return
	}
	for _, u := range urls {
		run.AddURL(u)
	}
}
