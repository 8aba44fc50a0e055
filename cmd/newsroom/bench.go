package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/newsroom-dev/newsroom/bench"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench COMMAND [flags]",
		Short: "Benchmarks against the built-in emulator",
		Long: `Benchmarks against the built-in emulator. Each prints one JSON report on
stdout and a summary line on stderr.`,
		Example: `  newsroom bench quota --runs 20 --duration 1m
  newsroom bench cache --store memory --reruns 5`,
		RunE: groupRunE,
	}
	cmd.AddCommand(
		benchCmd("quota", "Quota use with and without the client-side limiter", benchQuota),
		benchCmd("overhead", "The framework's cost per agent turn against a bare HTTP call", benchOverhead),
		benchCmd("concurrency", "Memory and goroutines with many runs at once", benchConcurrency),
		benchCmd("cache", "What a cached rerun costs, per cache store", benchCache),
		benchCmd("tokens", "Calls, tokens and cost per article of each desk against its baseline", benchTokens),
		benchCmd("failover", "Runs in flight on a pool of two emulators while the primary fails and recovers", benchFailover),
		benchCmd("similarity", "Similarity cache: hits on paraphrased tasks, none on changed facts, embedding cost", benchSimilarity),
		benchCmd("tools", "Time per tool round trip (model call, fetch_url, model call) against the emulator", benchTools),
		benchCmd("cluster", "Several serve processes on one PostgreSQL: follow elsewhere, kill -9 takeover, faults, shared quota", benchCluster),
	)
	return cmd
}

// benchFunc defines a benchmark's flags on cmd and returns the function
// that runs it: its report (printed as JSON) and a summary line.
type benchFunc func(cmd *cobra.Command) func(ctx context.Context) (any, string, error)

func benchCmd(name, short string, define benchFunc) *cobra.Command {
	cmd := &cobra.Command{
		Use:   name + " [flags]",
		Short: short,
		Args:  noArgs,
	}
	runBench := define(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		report, summary, err := runBench(cmd.Context())
		if errors.Is(err, bench.ErrConfig) {
			return fmt.Errorf("%w: %w", errUsage, err)
		}
		if err != nil {
			return err
		}
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return err
		}
		fmt.Fprintln(cmd.ErrOrStderr(), summary)
		return nil
	}
	return cmd
}

func benchQuota(cmd *cobra.Command) func(ctx context.Context) (any, string, error) {
	fs := cmd.Flags()
	var c bench.QuotaConfig
	fs.IntVar(&c.Runs, "runs", 20, "newsroom runs kept in flight")
	fs.IntVar(&c.RPM, "rpm", 180, "requests per minute quota (emulator and limiter)")
	fs.IntVar(&c.TPM, "tpm", 30000, "tokens per minute quota (emulator and limiter)")
	fs.DurationVar(&c.Duration, "duration", time.Minute, "measured window")
	fs.DurationVar(&c.Warmup, "warmup", time.Minute, "time before the measured window, not counted (the quota window starts empty: a minute reaches the steady state)")
	limiter := fs.Bool("limiter", true, "use the client-side quota limiter (false: retries only, the baseline)")
	fs.StringVar(&c.Team, "team", "roundrobin", "team: roundrobin or selector")
	fs.DurationVar(&c.TTFT, "ttft", 200*time.Millisecond, "emulator time to first token")
	fs.Float64Var(&c.TokensPerSecond, "tps", 80, "emulator tokens per second")
	return func(ctx context.Context) (any, string, error) {
		c.LimiterOff = !*limiter
		r, err := bench.Quota(ctx, c)
		if err != nil {
			return nil, "", err
		}
		return r, fmt.Sprintf("bench quota: limiter=%t tpm_used %.1f%%, rpm_used %.1f%%, throttled %.2f%%, runs %d completed / %d failed / %d in flight",
			r.Limiter, r.TPMUsedPct, r.RPMUsedPct, r.ThrottledPct, r.CompletedRuns, r.FailedRuns, r.InFlightRuns), nil
	}
}

func benchOverhead(cmd *cobra.Command) func(ctx context.Context) (any, string, error) {
	fs := cmd.Flags()
	var c bench.OverheadConfig
	fs.IntVar(&c.Turns, "turns", 2000, "agent turns to time on each side")
	fs.StringVar(&c.Team, "team", "roundrobin", "team: roundrobin or selector")
	return func(ctx context.Context) (any, string, error) {
		r, err := bench.Overhead(ctx, c)
		if err != nil {
			return nil, "", err
		}
		return r, fmt.Sprintf("bench overhead: framework %.0f µs/turn, bare HTTP %.0f µs/turn (x%.2f), %.0f vs %.0f allocs/turn",
			r.FrameworkUsPerTurn, r.RawHTTPUsPerTurn, r.Ratio, r.FrameworkAllocsPerTurn, r.RawHTTPAllocsPerTurn), nil
	}
}

func benchConcurrency(cmd *cobra.Command) func(ctx context.Context) (any, string, error) {
	fs := cmd.Flags()
	var c bench.ConcurrencyConfig
	fs.IntVar(&c.Runs, "runs", 1000, "runs started at once")
	fs.DurationVar(&c.Latency, "latency", 2*time.Second, "emulator time to first token")
	fs.StringVar(&c.Team, "team", "roundrobin", "team: roundrobin or selector")
	memLimit := fs.Int("memory-limit-mb", 0, "soft memory limit of this process in MiB during the runs (like GOMEMLIMIT; 0: the runtime's default)")
	memProfile := fs.String("memprofile", "", "write a heap profile of this process at its peak RSS (first phase) to this file")
	mode := fs.String("emulator", "both", "where the emulator runs: child (a `newsroom emulator` process, the client measured alone), inprocess, or both")
	return func(ctx context.Context) (any, string, error) {
		if *memLimit < 0 {
			return nil, "", usageErrorf("--memory-limit-mb must not be negative")
		}
		c.MemoryLimit = int64(*memLimit) << 20
		switch *mode {
		case "child", "both":
			exe, err := os.Executable()
			if err != nil {
				return nil, "", fmt.Errorf("bench: finding the newsroom binary for the child emulator: %w", err)
			}
			c.ChildEmulator = []string{exe, "emulator"}
			c.InProcess = *mode == "both"
		case "inprocess":
			c.InProcess = true
		default:
			return nil, "", usageErrorf("--emulator %q: want child, inprocess or both", *mode)
		}
		if *memProfile != "" {
			f, err := os.Create(*memProfile)
			if err != nil {
				return nil, "", fmt.Errorf("bench: %w", err)
			}
			defer func() { _ = f.Close() }()
			c.MemProfile = f
		}
		r, err := bench.Concurrency(ctx, c)
		if err != nil {
			return nil, "", err
		}
		var parts []string
		for _, p := range r.Phases {
			parts = append(parts, fmt.Sprintf("%s: peak RSS %.1f MB, %d goroutines, %d/%d runs in %.1fs",
				p.Emulator, p.PeakRSSMB, p.PeakGoroutines, p.CompletedRuns, r.Runs, p.WallS))
		}
		return r, "bench concurrency: " + strings.Join(parts, "; "), nil
	}
}

func benchCache(cmd *cobra.Command) func(ctx context.Context) (any, string, error) {
	fs := cmd.Flags()
	var c bench.CacheConfig
	store := fs.String("store", "all", "cache store: sqlite, redis, memory or all")
	fs.StringVar(&c.RedisURL, "redis-url", "", "Redis to use (redis://host:port); empty starts redis-server on a free loopback port")
	fs.IntVar(&c.Reruns, "reruns", 20, "cached reruns to average")
	fs.StringVar(&c.Team, "team", "roundrobin", "team: roundrobin or selector")
	return func(ctx context.Context) (any, string, error) {
		if *store == "all" {
			c.Stores = []string{"memory", "sqlite", "redis"}
		} else {
			c.Stores = []string{*store}
		}
		r, err := bench.Cache(ctx, c)
		if err != nil {
			return nil, "", err
		}
		var parts []string
		for _, s := range r.Stores {
			parts = append(parts, fmt.Sprintf("%s: rerun %d tokens $%g, %.3f ms/cached turn", s.Store, s.RerunTokens, s.RerunCostUSD, s.MsPerCachedTurn))
		}
		return r, "bench cache: " + strings.Join(parts, "; "), nil
	}
}

func benchTokens(cmd *cobra.Command) func(ctx context.Context) (any, string, error) {
	fs := cmd.Flags()
	var teams []string
	var dir string
	fs.StringSliceVar(&teams, "team", nil, "desks to measure (repeat or comma-separate; default every shipped desk)")
	fs.StringVar(&dir, "teams-dir", "", "also load the team files of this directory")
	return func(ctx context.Context) (any, string, error) {
		r, err := loadRegistry(dir)
		if err != nil {
			return nil, "", err
		}
		rep, err := bench.Tokens(ctx, bench.TokensConfig{Teams: teams, Registry: r})
		if err != nil {
			return nil, "", err
		}
		var parts []string
		for _, t := range rep.Teams {
			same := "same articles"
			if !t.SameArticle || !t.SameStopReason {
				same = "DIFFERENT articles or stops"
			}
			parts = append(parts, fmt.Sprintf("%s: %.3fx prompt tokens, %.3fx calls, %s; %d reasoning tokens, $%.6f an article at its efforts, %.3fx the cost at medium",
				t.Team, t.PromptTokensRatio, t.CallsRatio, same, t.Desk.ReasoningTokens, t.Desk.CostPerArticleUSD, t.EffortCostRatio))
		}
		return rep, "bench tokens: " + strings.Join(parts, "; "), nil
	}
}

func benchTools(cmd *cobra.Command) func(ctx context.Context) (any, string, error) {
	var c bench.ToolsConfig
	cmd.Flags().IntVar(&c.Replies, "replies", 500, "reporter replies to time on each side")
	return func(ctx context.Context) (any, string, error) {
		if c.Replies < 1 {
			return nil, "", usageErrorf("--replies must be at least 1")
		}
		r, err := bench.Tools(ctx, c)
		if err != nil {
			return nil, "", err
		}
		return r, fmt.Sprintf("bench tools: a tool round trip adds %.0f µs to a reply (%.0f µs with fetch_url vs %.0f µs without; the fetch %.0f µs, the second model call and the loop %.0f µs); "+
			"provenance and boundaries add %.0f µs and %d prompt tokens a reply (check %.0f ns, spotlight %.0f ns a call; markers %d tokens a result, guidance %d tokens a call)",
			r.RoundTripUs, r.ToolUsPerReply, r.PlainUsPerReply, r.FetchUs, r.LoopUs,
			r.GuardUsPerReply, r.GuardedPromptTokensPerReply-r.PromptTokensPerReply, r.CheckNsPerCall, r.SpotlightNsPerCall, r.BoundaryTokens, r.GuidanceTokens), nil
	}
}
