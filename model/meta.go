package model

import "context"

type metaKey struct{}

// WithMeta returns a context whose calls carry m's run id: an agent or a
// selector copies it into the Meta of the requests it makes for a run.
func WithMeta(ctx context.Context, m Meta) context.Context {
	return context.WithValue(ctx, metaKey{}, m)
}

// MetaFrom returns the call metadata stored by WithMeta.
func MetaFrom(ctx context.Context) (Meta, bool) {
	m, ok := ctx.Value(metaKey{}).(Meta)
	return m, ok
}
