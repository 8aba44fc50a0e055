package bench_test

import (
	"context"
	"errors"
	"testing"

	"github.com/newsroom-dev/newsroom/bench"
)

// TestTokens_DesksBeatTheirBaselineWithTheSameArticles: token counts on the
// emulator are deterministic, so the goals of the token benchmark are
// checked here as well as reported.
func TestTokens_DesksBeatTheirBaselineWithTheSameArticles(t *testing.T) {
	t.Parallel()
	rep, err := bench.Tokens(context.Background(), bench.TokensConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Teams) != 3 {
		t.Fatalf("%d teams, want the three shipped desks", len(rep.Teams))
	}
	for _, tt := range rep.Teams {
		if !tt.SameStopReason || !tt.SameArticle {
			t.Errorf("%s: differs from its baseline: %v", tt.Team, tt.Differences)
		}
		if !tt.Met || tt.PromptTokensRatio > tt.GoalPromptTokensRatio || tt.CallsRatio > tt.GoalCallsRatio {
			t.Errorf("%s: prompt tokens %.3f× (goal %.2f), calls %.3f× (goal %.2f)", tt.Team,
				tt.PromptTokensRatio, tt.GoalPromptTokensRatio, tt.CallsRatio, tt.GoalCallsRatio)
		}
		if tt.Baseline.Calls == 0 || tt.Desk.CostUSD <= 0 || tt.Desk.CostPerArticleUSD*float64(tt.Tasks) != tt.Desk.CostUSD {
			t.Errorf("%s: tallies %+v", tt.Team, tt)
		}
		// On the GPT-5 emulator: reasoning tokens are spent, and the shipped
		// efforts cost less than every agent at medium.
		if tt.Desk.ReasoningTokens <= 0 || tt.Medium.ReasoningTokens <= tt.Desk.ReasoningTokens ||
			tt.EffortCostRatio <= 0 || tt.EffortCostRatio >= 1 || tt.Medium.Calls != tt.Desk.Calls {
			t.Errorf("%s: reasoning %d (all medium %d), cost %.3f× all medium; want fewer reasoning tokens and a lower cost",
				tt.Team, tt.Desk.ReasoningTokens, tt.Medium.ReasoningTokens, tt.EffortCostRatio)
		}
	}
	sel := rep.Teams[1]
	if sel.Team != "selector" || sel.PromptTokensRatio > 0.6 || sel.CallsRatio > 0.7 || sel.Desk.SelectorCalls >= sel.Baseline.SelectorCalls {
		t.Fatalf("selector desk %+v", sel)
	}
	if _, err := bench.Tokens(context.Background(), bench.TokensConfig{Teams: []string{"sports"}}); !errors.Is(err, bench.ErrConfig) {
		t.Fatalf("unknown team: %v", err)
	}
}
