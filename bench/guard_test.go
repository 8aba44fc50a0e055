package bench_test

import (
	"context"
	"testing"

	"github.com/newsroom-dev/newsroom/bench"
)

func TestTools_ReportsWhatProvenanceAndBoundariesCost(t *testing.T) {
	r, err := bench.Tools(context.Background(), bench.ToolsConfig{Replies: 3})
	if err != nil {
		t.Fatal(err)
	}
	if r.BoundaryTokens <= 0 || r.GuidanceTokens <= 0 || r.GuardedPromptTokensPerReply <= r.PromptTokensPerReply ||
		r.CheckNsPerCall <= 0 || r.SpotlightNsPerCall <= 0 || r.GuardedToolUsPerReply <= 0 {
		t.Fatalf("report %+v", r)
	}
	// The guarded reply's extra prompt is the guidance on both model calls
	// and the markers of its one result.
	if d := r.GuardedPromptTokensPerReply - r.PromptTokensPerReply; d < 2*r.GuidanceTokens || d > 2*r.GuidanceTokens+2*r.BoundaryTokens {
		t.Errorf("the guarded reply has %d more prompt tokens; guidance %d a call, markers %d", d, r.GuidanceTokens, r.BoundaryTokens)
	}
}
