package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/newsroom-dev/newsroom/bench"
)

const benchUsage = `Usage: newsroom bench quota|overhead|concurrency|cache [flags]

Benchmarks against the built-in emulator. Each prints one JSON report on
stdout and a summary line on stderr. "newsroom bench SUBCOMMAND -h" lists its flags.
`

// runBench runs one benchmark and prints its report.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, benchUsage)
		return errUsage
	}
	var (
		report  any
		summary string
		err     error
	)
	switch args[0] {
	case "quota":
		report, summary, err = benchQuota(ctx, args[1:], stderr)
	case "overhead":
		report, summary, err = benchOverhead(ctx, args[1:], stderr)
	case "concurrency":
		report, summary, err = benchConcurrency(ctx, args[1:], stderr)
	case "cache":
		report, summary, err = benchCache(ctx, args[1:], stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, benchUsage)
		return nil
	default:
		fmt.Fprint(stderr, benchUsage)
		return fmt.Errorf("%w: unknown benchmark %q", errUsage, args[0])
	}
	if errors.Is(err, bench.ErrConfig) {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(report); err != nil {
		return err
	}
	fmt.Fprintln(stderr, summary)
	return nil
}

func benchFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("bench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parseBenchFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, strings.Join(fs.Args(), " "))
	}
	return nil
}

func benchQuota(ctx context.Context, args []string, stderr io.Writer) (any, string, error) {
	fs := benchFlags("quota", stderr)
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
	if err := parseBenchFlags(fs, args); err != nil {
		return nil, "", err
	}
	c.LimiterOff = !*limiter
	r, err := bench.Quota(ctx, c)
	if err != nil {
		return nil, "", err
	}
	return r, fmt.Sprintf("bench quota: limiter=%t tpm_used %.1f%%, rpm_used %.1f%%, throttled %.2f%%, runs %d completed / %d failed / %d in flight",
		r.Limiter, r.TPMUsedPct, r.RPMUsedPct, r.ThrottledPct, r.CompletedRuns, r.FailedRuns, r.InFlightRuns), nil
}

func benchOverhead(ctx context.Context, args []string, stderr io.Writer) (any, string, error) {
	fs := benchFlags("overhead", stderr)
	var c bench.OverheadConfig
	fs.IntVar(&c.Turns, "turns", 2000, "agent turns to time on each side")
	fs.StringVar(&c.Team, "team", "roundrobin", "team: roundrobin or selector")
	if err := parseBenchFlags(fs, args); err != nil {
		return nil, "", err
	}
	r, err := bench.Overhead(ctx, c)
	if err != nil {
		return nil, "", err
	}
	return r, fmt.Sprintf("bench overhead: framework %.0f µs/turn, raw SDK %.0f µs/turn (x%.2f), %.0f vs %.0f allocs/turn",
		r.FrameworkUsPerTurn, r.RawSDKUsPerTurn, r.Ratio, r.FrameworkAllocsPerTurn, r.RawSDKAllocsPerTurn), nil
}

func benchConcurrency(ctx context.Context, args []string, stderr io.Writer) (any, string, error) {
	fs := benchFlags("concurrency", stderr)
	var c bench.ConcurrencyConfig
	fs.IntVar(&c.Runs, "runs", 1000, "runs started at once")
	fs.DurationVar(&c.Latency, "latency", 2*time.Second, "emulator time to first token")
	fs.StringVar(&c.Team, "team", "roundrobin", "team: roundrobin or selector")
	memLimit := fs.Int("memory-limit-mb", 0, "soft memory limit of this process in MiB during the runs (like GOMEMLIMIT; 0: the runtime's default)")
	memProfile := fs.String("memprofile", "", "write a heap profile of this process at its peak RSS (first phase) to this file")
	mode := fs.String("emulator", "both", "where the emulator runs: child (a `newsroom emulator` process, the client measured alone), inprocess, or both")
	if err := parseBenchFlags(fs, args); err != nil {
		return nil, "", err
	}
	if *memLimit < 0 {
		return nil, "", fmt.Errorf("%w: --memory-limit-mb must not be negative", errUsage)
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
		return nil, "", fmt.Errorf("%w: --emulator %q: want child, inprocess or both", errUsage, *mode)
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

func benchCache(ctx context.Context, args []string, stderr io.Writer) (any, string, error) {
	fs := benchFlags("cache", stderr)
	var c bench.CacheConfig
	store := fs.String("store", "all", "cache store: sqlite, redis, memory or all")
	fs.StringVar(&c.RedisURL, "redis-url", "", "Redis to use (redis://host:port); empty starts redis-server on a free loopback port")
	fs.IntVar(&c.Reruns, "reruns", 20, "cached reruns to average")
	fs.StringVar(&c.Team, "team", "roundrobin", "team: roundrobin or selector")
	if err := parseBenchFlags(fs, args); err != nil {
		return nil, "", err
	}
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
