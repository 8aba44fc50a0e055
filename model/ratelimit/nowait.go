package ratelimit

import (
	"context"
	"errors"
	"fmt"
)

// ErrFull is matched (errors.Is) by the error Acquire returns, in a context
// made by WithoutWaiting, when the deployment's window has no room now.
var ErrFull = errors.New("ratelimit: the deployment's quota window is full")

// FullError says which deployment had no room for a call that may not wait.
type FullError struct {
	Deployment string
}

func (e *FullError) Error() string {
	return fmt.Sprintf("ratelimit: the quota window of deployment %q is full", e.Deployment)
}

// Is makes errors.Is(err, ErrFull) true.
func (e *FullError) Is(target error) bool { return target == ErrFull }

type noWaitKey struct{}

// WithoutWaiting returns a context in which Acquire does not queue for room:
// when the deployment's window is full (or paused after a 429), or other
// calls already wait, it fails at once with a *FullError. A deployment pool
// uses it to spill a call over to another deployment that has room instead
// of waiting for this one.
func WithoutWaiting(ctx context.Context) context.Context {
	return context.WithValue(ctx, noWaitKey{}, true)
}

func mayWait(ctx context.Context) bool {
	v, _ := ctx.Value(noWaitKey{}).(bool)
	return !v
}
