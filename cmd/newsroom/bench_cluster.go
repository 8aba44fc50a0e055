package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/newsroom-dev/newsroom/bench"
)

func benchCluster(cmd *cobra.Command) func(ctx context.Context) (any, string, error) {
	fs := cmd.Flags()
	var c bench.ClusterConfig
	var phases []string
	fs.StringSliceVar(&phases, "phase", nil, "phases to run: follow, takeover, faults, quota (repeat or comma-separate; default all)")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "PostgreSQL server (postgres:// URL of a role that may CREATE DATABASE) for a database per phase (env NEWSROOM_BENCH_DATABASE_URL; default: start a throwaway PostgreSQL)")
	fs.StringVar(&c.RedisURL, "redis-url", "", "Redis for the shared-quota mode (default: start redis-server on a free loopback port when installed)")
	fs.StringVar(&c.Dir, "log-dir", "", "keep the instances' logs in this directory (default: a temporary directory, removed)")
	fs.IntVar(&c.Instances, "instances", 2, "serve processes in the follow and takeover phases")
	fs.IntVar(&c.FollowRuns, "follow-runs", 3, "runs followed on another instance than the executing one")
	fs.IntVar(&c.Takeovers, "takeovers", 3, "kill -9 takeovers of the executing instance (restarted after each)")
	fs.IntVar(&c.KillAfterMessages, "kill-after-messages", 2, "messages a run has stored when its instance is killed")
	fs.IntVar(&c.FaultRuns, "fault-runs", 30, "runs of the fault phase")
	fs.IntVar(&c.FaultInstances, "fault-instances", 3, "serve processes in the fault phase")
	fs.StringVar(&c.FaultRates, "fault-rate", "429=0.3,500=0.05,cut=0.05", "faults the emulator injects in the fault phase (as newsroom emulator --fault-rate)")
	fs.DurationVar(&c.FaultKillAfter, "fault-kill-after", 20*time.Second, "when the instance holding the most runs is killed in the fault phase")
	fs.DurationVar(&c.FaultTimeout, "fault-timeout", 10*time.Minute, "bound of the fault phase")
	fs.IntVar(&c.QuotaInstances, "quota-instances", 3, "serve processes sharing one deployment's quota")
	fs.IntVar(&c.QuotaRPM, "quota-rpm", 120, "the deployment's requests per minute (emulator and instances)")
	fs.IntVar(&c.QuotaTPM, "quota-tpm", 60000, "the deployment's tokens per minute (emulator and instances)")
	fs.DurationVar(&c.QuotaDuration, "quota-duration", time.Minute, "measured window of each quota mode")
	fs.IntVar(&c.QuotaInFlight, "quota-runs", 4, "runs kept in flight per instance in the quota phase")
	fs.DurationVar(&c.TTFT, "ttft", 200*time.Millisecond, "emulator time to first token")
	fs.Float64Var(&c.TokensPerSecond, "tps", 200, "emulator tokens per second")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of the emulator's faults")
	return func(ctx context.Context) (any, string, error) {
		exe, err := os.Executable()
		if err != nil {
			return nil, "", fmt.Errorf("bench: finding the newsroom binary for the serve processes: %w", err)
		}
		c.Command = []string{exe}
		c.Phases = phases
		if c.DatabaseURL == "" {
			c.DatabaseURL = os.Getenv("NEWSROOM_BENCH_DATABASE_URL")
		}
		stderr := cmd.ErrOrStderr()
		c.Log = func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
		r, err := bench.ClusterBench(ctx, c)
		if err != nil {
			return nil, "", err
		}
		var parts []string
		if f := r.Follow; f != nil {
			parts = append(parts, fmt.Sprintf("follow elsewhere: store to client p50 %.1f ms, p95 %.1f ms, max %.1f ms; run_finished %d/%d",
				f.StoreToClientMS.P50, f.StoreToClientMS.P95, f.StoreToClientMS.Max, f.RunFinishedReceived, f.Runs))
		}
		if t := r.Takeover; t != nil {
			parts = append(parts, fmt.Sprintf("kill -9: resumed in p50 %.1f s, max %.1f s; %d repeated stored calls, %d duplicate messages; %d/%d succeeded",
				t.ResumeS.P50, t.ResumeS.Max, t.RepeatedStoredCalls, t.DuplicateMessages, t.Succeeded, len(t.Trials)))
		}
		if f := r.Faults; f != nil {
			parts = append(parts, fmt.Sprintf("faults: %d/%d runs succeeded, %d repeated stored calls after the kill, %d panics; "+
				"the killed instance's runs taken over after: running p50 %.0f s, max %.0f s; only queued p50 %.0f s, max %.0f s",
				f.Succeeded, f.Runs, f.RepeatedAfterKill.Stored, len(f.Panics),
				f.TakeoverRunningS.P50, f.TakeoverRunningS.Max, f.TakeoverQueuedS.P50, f.TakeoverQueuedS.Max))
		}
		for _, q := range r.Quota {
			parts = append(parts, fmt.Sprintf("quota (%s, %d instances): throttled %.2f%%, %.0f%% of RPM used", q.Mode, q.Instances, q.ThrottledPct, q.RPMUsedPct))
		}
		return r, "bench cluster: " + strings.Join(parts, "; "), nil
	}
}
