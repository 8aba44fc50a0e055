package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/newsroom-dev/newsroom/bench"
)

func benchFailover(cmd *cobra.Command) func(ctx context.Context) (any, string, error) {
	fs := cmd.Flags()
	var c bench.FailoverConfig
	fs.IntVar(&c.Runs, "runs", 8, "newsroom runs kept in flight")
	fs.DurationVar(&c.Duration, "duration", 90*time.Second, "the whole benchmark")
	fs.DurationVar(&c.FailAt, "fail-at", 30*time.Second, "when the primary starts failing")
	fs.DurationVar(&c.StormFor, "storm", 10*time.Second, "how long the primary answers 503")
	fs.DurationVar(&c.StallFor, "stall", 10*time.Second, "how long the primary then stalls, before it recovers")
	fs.DurationVar(&c.StallTimeout, "stall-timeout", time.Second, "the pool's bound on a silent stream")
	fs.DurationVar(&c.CoolDown, "cool-down", 5*time.Second, "how long an open breaker waits before its probe")
	fs.StringVar(&c.Team, "team", "roundrobin", "team: roundrobin or selector")
	return func(ctx context.Context) (any, string, error) {
		r, err := bench.Failover(ctx, c)
		if err != nil {
			return nil, "", err
		}
		return r, fmt.Sprintf("bench failover: %d failed runs, p95 added latency %.0f ms over the %d calls of the switch (%.1f ms over all %d outage calls), secondary share %.2f, back to the primary %.1fs after it recovered",
			r.FailedRuns, r.P95AddedLatencyMS, r.SwitchCalls, r.OutageP95AddedMS, r.OutageCalls, r.SecondaryShare, r.ReturnAfterS), nil
	}
}

func benchSimilarity(cmd *cobra.Command) func(ctx context.Context) (any, string, error) {
	fs := cmd.Flags()
	var c bench.SimilarityConfig
	fs.Float64Var(&c.Threshold, "threshold", 0.97, "the similarity cache's threshold")
	fs.IntVar(&c.Dimensions, "dimensions", 256, "embedding dimensions")
	fs.StringVar(&c.Team, "team", "roundrobin", "team: roundrobin or selector")
	return func(ctx context.Context) (any, string, error) {
		r, err := bench.Similarity(ctx, c)
		if err != nil {
			return nil, "", err
		}
		return r, fmt.Sprintf("bench similarity: paraphrase hit rate %.2f (%d/%d calls), %d hits on changed facts, embeddings %d tokens $%.6f vs $%.6f saved (net $%.6f)",
			r.ParaphraseHitRate, r.ParaphraseHits, r.ParaphraseCalls, r.ChangedFactHits, r.EmbeddingTokens, r.EmbeddingCostUSD, r.SavedUSD, r.NetSavedUSD), nil
	}
}
