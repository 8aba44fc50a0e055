package ratelimit_test

import (
	"errors"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/model/ratelimit"
)

func TestLimiter_Acquire_withoutWaiting(t *testing.T) {
	clock := newFakeClock()
	l := newLimiter(clock, 2, 1000)
	ctx := ratelimit.WithoutWaiting(t.Context())
	for i := range 2 {
		if _, err := l.Acquire(ctx, dep, 10); err != nil {
			t.Fatalf("call %d with room: %v", i+1, err)
		}
	}
	_, err := l.Acquire(ctx, dep, 10)
	var full *ratelimit.FullError
	if !errors.As(err, &full) || !errors.Is(err, ratelimit.ErrFull) || full.Deployment != dep {
		t.Fatalf("a call over the window = %v, want a *FullError for %q", err, dep)
	}
	if got := l.Stats(dep).Waiting; got != 0 {
		t.Errorf("waiting = %d: a call that may not wait was queued", got)
	}

	other := newLimiter(clock, 100, 1000)
	other.Pause(dep, 10*time.Second)
	if _, err := other.Acquire(ctx, dep, 10); !errors.Is(err, ratelimit.ErrFull) {
		t.Errorf("a paused deployment = %v, want ErrFull", err)
	}
	clock.Advance(10 * time.Second)
	if _, err := other.Acquire(ctx, dep, 10); err != nil {
		t.Errorf("after the pause: %v", err)
	}
}
