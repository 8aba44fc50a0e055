package bench

import (
	"context"
	"errors"
	"fmt"
	"github.com/newsroom-dev/newsroom/internal/proc"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/model/cache"
	"github.com/newsroom-dev/newsroom/model/cache/memory"
	cacheredis "github.com/newsroom-dev/newsroom/model/cache/redis"
	"github.com/newsroom-dev/newsroom/model/cache/sqlite"
	"github.com/newsroom-dev/newsroom/model/ratelimit"
	"github.com/newsroom-dev/newsroom/team"
)

// ErrNoRedis is matched by the error of a Redis cache benchmark when no
// --redis-url is given and redis-server is not on PATH.
var ErrNoRedis = errors.New("bench: redis-server not found on PATH (install it, or pass --redis-url)")

// CacheConfig configures the cache benchmark.
type CacheConfig struct {
	// Stores to measure: "memory", "sqlite", "redis"; empty means all three.
	Stores []string
	// RedisURL is the Redis to use ("redis://host:port" or "host:port");
	// empty starts redis-server from PATH on a free loopback port.
	RedisURL string
	// Reruns is how many cached reruns to average; 0 means 20.
	Reruns int
	// Team is desk.RoundRobin (default) or desk.Selector.
	Team string
	// Dir holds the SQLite file; empty means a new temporary directory.
	Dir string
}

// CacheReport is the cache benchmark's result, one entry per store.
type CacheReport struct {
	Benchmark string       `json:"benchmark"`
	Team      string       `json:"team"`
	Reruns    int          `json:"reruns"`
	Stores    []StoreBench `json:"stores"`
}

// StoreBench is a cold run and its cached reruns on one store.
type StoreBench struct {
	Store string `json:"store"`
	// The cold run: what the service was paid.
	ColdTokens    int     `json:"cold_tokens"`
	ColdCostUSD   float64 `json:"cold_cost_usd"`
	ColdTurns     int     `json:"cold_turns"`
	ColdMsPerTurn float64 `json:"cold_ms_per_turn"`
	// The reruns (after reopening the store, as a new process would): the
	// tokens and cost of one rerun, and the requests that reached the
	// service over all reruns.
	RerunTokens          int     `json:"rerun_tokens"`
	RerunCostUSD         float64 `json:"rerun_cost_usd"`
	RerunServiceRequests int     `json:"rerun_service_requests"`
	CachedTurns          int     `json:"cached_turns"`
	MsPerCachedTurn      float64 `json:"ms_per_cached_turn"`
	GoalTokens           int     `json:"goal_rerun_tokens"`
	GoalMsPerCachedTurn  float64 `json:"goal_ms_per_cached_turn,omitempty"`
	GoalMet              bool    `json:"goal_met"`
	StoreErrors          int     `json:"store_errors"`
}

// goals per store, in ms per cached turn (memory has none of its own).
var cacheGoalMs = map[string]float64{"sqlite": 1, "redis": 2}

// Cache runs a task cold through a cached pipeline, then reruns it from the
// cache and measures what the reruns cost and how long a cached turn takes.
func Cache(ctx context.Context, cfg CacheConfig) (*CacheReport, error) {
	if cfg.Reruns < 0 {
		return nil, fmt.Errorf("%w: reruns must not be negative", ErrConfig)
	}
	if cfg.Reruns == 0 {
		cfg.Reruns = 20
	}
	if len(cfg.Stores) == 0 {
		cfg.Stores = []string{"memory", "sqlite", "redis"}
	}
	teamName, err := checkTeam(cfg.Team)
	if err != nil {
		return nil, err
	}
	for _, s := range cfg.Stores {
		if s != "memory" && s != "sqlite" && s != "redis" {
			return nil, fmt.Errorf("%w: unknown store %q (want sqlite, redis, memory or all)", ErrConfig, s)
		}
	}
	if cfg.Dir == "" {
		dir, err := os.MkdirTemp("", "newsroom-bench-cache-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		cfg.Dir = dir
	}
	r := &CacheReport{Benchmark: "cache", Team: teamName, Reruns: cfg.Reruns}
	for _, name := range cfg.Stores {
		sb, err := benchStore(ctx, cfg, teamName, name)
		if err != nil {
			return nil, fmt.Errorf("bench: %s cache: %w", name, err)
		}
		r.Stores = append(r.Stores, *sb)
	}
	return r, nil
}

// storeOpener opens the store; each call is a fresh handle on the same data.
type storeOpener func(ctx context.Context) (cache.Store, func(), error)

func benchStore(ctx context.Context, cfg CacheConfig, teamName, name string) (*StoreBench, error) {
	var open storeOpener
	switch name {
	case "memory":
		st := memory.New(memory.Config{})
		open = func(context.Context) (cache.Store, func(), error) { return st, func() {}, nil }
	case "sqlite":
		path := filepath.Join(cfg.Dir, "cache.db")
		open = func(ctx context.Context) (cache.Store, func(), error) {
			st, err := sqlite.Open(ctx, sqlite.Config{Path: path})
			if err != nil {
				return nil, nil, err
			}
			return st, func() { _ = st.Close() }, nil
		}
	case "redis":
		addr := cfg.RedisURL
		if addr == "" {
			a, stop, err := startRedis(ctx, cfg.Dir)
			if err != nil {
				return nil, err
			}
			defer stop()
			addr = a
		}
		opts, err := redisOptions(addr)
		if err != nil {
			return nil, err
		}
		prefix := fmt.Sprintf("newsroom-bench:%d:", time.Now().UnixNano())
		open = func(ctx context.Context) (cache.Store, func(), error) {
			rdb := goredis.NewClient(opts)
			if err := rdb.Ping(ctx).Err(); err != nil {
				_ = rdb.Close()
				return nil, nil, fmt.Errorf("redis at %s: %w", opts.Addr, err)
			}
			st, err := cacheredis.New(cacheredis.Config{Client: rdb, Prefix: prefix})
			if err != nil {
				_ = rdb.Close()
				return nil, nil, err
			}
			return st, func() { _ = rdb.Close() }, nil
		}
	}

	em, err := emulator.Start(emulator.Config{APIKey: apiKey, MaxRecorded: -1}, emulator.Options{})
	if err != nil {
		return nil, err
	}
	defer em.Close()
	sb := &StoreBench{Store: name, GoalMsPerCachedTurn: cacheGoalMs[name]}
	var storeErrors atomic.Int64

	run := func(store cache.Store) (*team.Result, time.Duration, error) {
		p, err := newStack(stackConfig{url: em.URL,
			quota: ratelimit.LimiterConfig{RequestsPerMinute: 1 << 30, TokensPerMinute: 1 << 30},
			cache: cache.Config{Store: store, OnError: func(string, error) { storeErrors.Add(1) }}})
		if err != nil {
			return nil, 0, err
		}
		tm, err := desk.New(desk.Config{Team: teamName, Client: p})
		if err != nil {
			return nil, 0, err
		}
		start := time.Now()
		res, err := team.Run(ctx, tm, Tasks[0], team.WithStreaming(true))
		return res, time.Since(start), err
	}

	store, closeStore, err := open(ctx)
	if err != nil {
		return nil, err
	}
	cold, took, err := run(store)
	closeStore()
	if err != nil {
		return nil, fmt.Errorf("cold run: %w", err)
	}
	sb.ColdTokens, sb.ColdCostUSD, sb.ColdTurns = cold.Usage.TotalTokens(), cold.Usage.CostUSD, cold.Usage.Requests
	if sb.ColdTurns > 0 {
		sb.ColdMsPerTurn = msPer(took, sb.ColdTurns)
	}

	// Reopen, as a rerun in a new process would.
	store, closeStore, err = open(ctx)
	if err != nil {
		return nil, err
	}
	defer closeStore()
	if _, _, err := run(store); err != nil { // warm the handle (connections, statements)
		return nil, fmt.Errorf("rerun: %w", err)
	}
	calls := em.Count()
	var total time.Duration
	for i := range cfg.Reruns {
		res, took, err := run(store)
		if err != nil {
			return nil, fmt.Errorf("rerun: %w", err)
		}
		total += took
		sb.CachedTurns += res.Usage.CachedResponses
		if i == 0 {
			sb.RerunTokens, sb.RerunCostUSD = res.Usage.TotalTokens(), res.Usage.CostUSD
		}
	}
	sb.RerunServiceRequests = em.Count() - calls
	sb.StoreErrors = int(storeErrors.Load())
	if sb.CachedTurns > 0 {
		sb.MsPerCachedTurn = msPer(total, sb.CachedTurns)
	}
	sb.GoalMet = sb.RerunTokens == 0 && sb.RerunServiceRequests == 0 &&
		(sb.GoalMsPerCachedTurn == 0 || sb.MsPerCachedTurn <= sb.GoalMsPerCachedTurn)
	return sb, nil
}

func msPer(d time.Duration, n int) float64 {
	return float64(int64(float64(d.Microseconds())/float64(n)+0.5)) / 1000
}

func redisOptions(s string) (*goredis.Options, error) {
	if strings.Contains(s, "://") {
		o, err := goredis.ParseURL(s)
		if err != nil {
			return nil, fmt.Errorf("%w: --redis-url: %w", ErrConfig, err)
		}
		return o, nil
	}
	if _, _, err := net.SplitHostPort(s); err != nil {
		return nil, fmt.Errorf("%w: --redis-url %q: want redis://host:port or host:port", ErrConfig, s)
	}
	return &goredis.Options{Addr: s}, nil
}

// startRedis starts redis-server from PATH on a free loopback port.
func startRedis(ctx context.Context, dir string) (string, func(), error) {
	addr, stop, err := proc.StartRedis(ctx, dir)
	if errors.Is(err, proc.ErrNoRedis) {
		return "", nil, ErrNoRedis
	}
	return addr, stop, err
}
