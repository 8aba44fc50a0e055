package modelstack_test

import (
	"context"
	"testing"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/modelstack"
)

// TestStack_ResumedRunClientCountsWhatWasSpent checks that a resumed run's
// budget is what is left of it: a call that fits a fresh budget is refused
// when the run's earlier legs spent nearly all of it.
func TestStack_ResumedRunClientCountsWhatWasSpent(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Config{APIKey: "right"})
	s := mustBuild(t, modelstack.Options{Config: azure(em, "right")})
	if _, err := s.ResumedRunClient(1, 0, model.Usage{CostUSD: 0.10}).Complete(context.Background(), request()); err != nil {
		t.Fatalf("a call with room left = %v", err)
	}
	_, err := s.ResumedRunClient(1, 0, model.Usage{CostUSD: 0.999}).Complete(context.Background(), request())
	if _, stop := model.AsStop(err); !stop {
		t.Errorf("a call once $0.999 of $1 was spent = %v, want a budget stop", err)
	}
	_, err = s.ResumedRunClient(0, 100, model.Usage{PromptTokens: 100}).Complete(context.Background(), request())
	if _, stop := model.AsStop(err); !stop {
		t.Errorf("a call once the 100-token budget was used = %v, want a budget stop", err)
	}
}
