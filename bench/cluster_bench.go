package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/proc"
)

// ClusterConfig configures ClusterBench.
type ClusterConfig struct {
	// Command runs newsroom (see ClusterOptions.Command). Required.
	Command []string
	// DatabaseURL is a PostgreSQL server where the benchmark may create a
	// database per phase (CREATEDB); empty starts a throwaway PostgreSQL.
	DatabaseURL string
	// RedisURL is the Redis of the quota phase's shared mode; empty starts
	// redis-server when it is installed (the mode is skipped otherwise).
	RedisURL string
	// Dir keeps the instances' logs; empty uses a temporary directory that
	// is removed at the end.
	Dir string
	// Phases to run: follow, takeover, faults, quota; empty means all.
	Phases []string

	// Instances for the follow and takeover phases (at least 2).
	Instances int
	// FollowRuns are the runs followed on another instance.
	FollowRuns int
	// Takeovers is how many times the executing instance is killed;
	// KillAfterMessages is how many messages a run has stored by then.
	Takeovers         int
	KillAfterMessages int
	// FaultRuns runs on FaultInstances against FaultRates, one instance
	// killed FaultKillAfter in; FaultTimeout bounds the phase.
	FaultRuns      int
	FaultInstances int
	FaultRates     string
	FaultKillAfter time.Duration
	FaultTimeout   time.Duration
	// QuotaInstances share one deployment of QuotaRPM and QuotaTPM for
	// QuotaDuration, QuotaInFlight runs per instance kept going.
	QuotaInstances int
	QuotaRPM       int
	QuotaTPM       int
	QuotaDuration  time.Duration
	QuotaInFlight  int
	// TTFT and TokensPerSecond are the emulator's timing.
	TTFT            time.Duration
	TokensPerSecond float64
	// Seed seeds the emulator's faults.
	Seed uint64
	// Log, when set, receives a line per phase as it starts and ends.
	Log func(format string, args ...any)
}

// ClusterReport is the result of ClusterBench; a phase not run is null.
type ClusterReport struct {
	Benchmark string            `json:"benchmark"`
	Store     string            `json:"store"`
	TTFTMS    int64             `json:"emulator_ttft_ms"`
	TPS       float64           `json:"emulator_tokens_per_s"`
	Follow    *FollowReport     `json:"follow"`
	Takeover  *TakeoverReport   `json:"takeover"`
	Faults    *FaultReport      `json:"faults"`
	Quota     []QuotaModeReport `json:"quota"`
	QuotaNote string            `json:"quota_note,omitempty"`
	LogDir    string            `json:"log_dir,omitempty"`
}

func (c *ClusterConfig) defaults() error {
	if len(c.Command) == 0 {
		return fmt.Errorf("%w: no newsroom command", ErrConfig)
	}
	if len(c.Phases) == 0 {
		c.Phases = []string{"follow", "takeover", "faults", "quota"}
	}
	for _, p := range c.Phases {
		switch p {
		case "follow", "takeover", "faults", "quota":
		default:
			return fmt.Errorf("%w: unknown phase %q (want follow, takeover, faults or quota)", ErrConfig, p)
		}
	}
	switch {
	case c.Instances < 2 || c.FaultInstances < 2 || c.QuotaInstances < 1:
		return fmt.Errorf("%w: the follow, takeover and fault phases need at least 2 instances", ErrConfig)
	case c.FollowRuns < 1 || c.Takeovers < 1 || c.FaultRuns < 1 || c.QuotaInFlight < 1 || c.KillAfterMessages < 0:
		return fmt.Errorf("%w: run counts must be positive", ErrConfig)
	case c.TTFT < 0 || c.TokensPerSecond < 0 || c.FaultKillAfter < 0 || c.FaultTimeout <= 0 || c.QuotaDuration <= 0:
		return fmt.Errorf("%w: durations must not be negative", ErrConfig)
	}
	if _, err := emulator.ParseFaultRates(c.FaultRates); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if c.Log == nil {
		c.Log = func(string, ...any) {}
	}
	return nil
}

// ClusterBench starts `newsroom serve` processes on one PostgreSQL and one
// emulator and measures, phase by phase, on a fresh database each: events
// followed on another instance than the executing one, kill -9 takeovers,
// a fault run with a kill, and N instances against one deployment's quota.
func ClusterBench(ctx context.Context, cfg ClusterConfig) (*ClusterReport, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	rep := &ClusterReport{Benchmark: "cluster", Store: "postgres", TTFTMS: cfg.TTFT.Milliseconds(), TPS: cfg.TokensPerSecond}
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "newsroom-bench-cluster-")
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	} else {
		rep.LogDir = dir
	}
	admin := cfg.DatabaseURL
	if admin == "" {
		// Its own temporary directory: as root the server runs as the
		// postgres user, who must reach it (the log directory may be private).
		pgDir, err := os.MkdirTemp("", "newsroom-bench-postgres-")
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		defer os.RemoveAll(pgDir)
		pg, err := proc.StartPostgres(ctx, pgDir)
		if err != nil {
			return nil, err
		}
		defer pg.Stop(10 * time.Second)
		admin = pg.DSN
	}
	phaseNo := 0
	cluster := func(name string, instances int, emu emulator.Config, redisURL string, rpm, tpm int) (*Cluster, func(), error) {
		phaseNo++
		dsn, drop, err := createDatabase(ctx, admin)
		if err != nil {
			return nil, nil, err
		}
		pdir := filepath.Join(dir, fmt.Sprintf("%d-%s", phaseNo, name))
		if err := os.MkdirAll(pdir, 0o700); err != nil {
			drop()
			return nil, nil, fmt.Errorf("bench: %w", err)
		}
		emu.Latency = emulator.Latency{TimeToFirstToken: cfg.TTFT, TokensPerSecond: cfg.TokensPerSecond}
		emu.Seed = cfg.Seed
		c, err := StartCluster(ctx, ClusterOptions{Command: cfg.Command, Instances: instances, DatabaseURL: dsn,
			RedisURL: redisURL, Emulator: emu, RPM: rpm, TPM: tpm, Dir: pdir})
		if err != nil {
			drop()
			return nil, nil, err
		}
		return c, func() { c.Close(); drop() }, nil
	}
	has := func(p string) bool {
		for _, q := range cfg.Phases {
			if q == p {
				return true
			}
		}
		return false
	}

	if has("follow") || has("takeover") {
		c, stop, err := cluster("follow-takeover", cfg.Instances, emulator.Config{}, "", 0, 0)
		if err != nil {
			return nil, err
		}
		if has("follow") {
			cfg.Log("bench cluster: follow: %d runs on %d instances", cfg.FollowRuns, cfg.Instances)
			f, err := MeasureFollow(ctx, c, cfg.FollowRuns, 0)
			if err != nil {
				stop()
				return nil, fmt.Errorf("follow: %w", err)
			}
			rep.Follow = &f
		}
		if has("takeover") {
			cfg.Log("bench cluster: takeover: %d kills", cfg.Takeovers)
			t, err := MeasureTakeover(ctx, c, cfg.Takeovers, cfg.KillAfterMessages, 1000)
			if err != nil {
				stop()
				return nil, fmt.Errorf("takeover: %w", err)
			}
			rep.Takeover = &t
		}
		stop()
	}
	if has("faults") {
		rates, _ := emulator.ParseFaultRates(cfg.FaultRates)
		c, stop, err := cluster("faults", cfg.FaultInstances, emulator.Config{Faults: emulator.Faults{Rates: rates}}, "", 0, 0)
		if err != nil {
			return nil, err
		}
		cfg.Log("bench cluster: faults: %d runs on %d instances, faults %s, a kill %s in", cfg.FaultRuns, cfg.FaultInstances, cfg.FaultRates, cfg.FaultKillAfter)
		f, err := MeasureFaults(ctx, c, cfg.FaultRuns, cfg.FaultKillAfter, cfg.FaultTimeout, 2000)
		stop()
		if err != nil {
			return nil, fmt.Errorf("faults: %w", err)
		}
		rep.Faults = &f
	}
	if has("quota") {
		redisURL := cfg.RedisURL
		if redisURL == "" {
			rdir := filepath.Join(dir, "redis")
			if err := os.MkdirAll(rdir, 0o700); err != nil {
				return nil, fmt.Errorf("bench: %w", err)
			}
			addr, stopRedis, err := proc.StartRedis(ctx, rdir)
			switch {
			case errors.Is(err, proc.ErrNoRedis):
				rep.QuotaNote = "redis-server is not installed: the shared (redis) mode was not measured"
			case err != nil:
				return nil, err
			default:
				defer stopRedis()
				redisURL = "redis://" + addr
			}
		}
		modes := []struct{ name, redis string }{{"postgres", ""}}
		if redisURL != "" {
			modes = append(modes, struct{ name, redis string }{"redis", redisURL})
		}
		for i, m := range modes {
			emu := emulator.Config{Quota: emulator.Quota{RequestsPerMinute: cfg.QuotaRPM, TokensPerMinute: cfg.QuotaTPM}}
			c, stop, err := cluster("quota-"+m.name, cfg.QuotaInstances, emu, m.redis, cfg.QuotaRPM, cfg.QuotaTPM)
			if err != nil {
				return nil, err
			}
			cfg.Log("bench cluster: quota (%s): %d instances, %d RPM / %d TPM for %s", m.name, cfg.QuotaInstances, cfg.QuotaRPM, cfg.QuotaTPM, cfg.QuotaDuration)
			q, err := MeasureQuota(ctx, c, m.name, cfg.QuotaInFlight, cfg.QuotaDuration, 3000+i*10000)
			stop()
			if err != nil {
				return nil, fmt.Errorf("quota: %w", err)
			}
			rep.Quota = append(rep.Quota, q)
		}
	}
	return rep, nil
}

// createDatabase creates a fresh database on the server at admin and returns
// its URL and a function that drops it.
func createDatabase(ctx context.Context, admin string) (string, func(), error) {
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, fmt.Errorf("%w: the database URL must be a postgres:// URL", ErrConfig)
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("bench: connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	name := "bench_cluster_" + strings.ToLower(rand.Text())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("bench: create database: %w", err)
	}
	u.Path = "/" + name
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, admin); err == nil {
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			conn.Close(ctx)
		}
	}
	return u.String(), drop, nil
}
