package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/newsroom-dev/newsroom/alerts"
	"github.com/newsroom-dev/newsroom/config"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/httpx"
	"github.com/newsroom-dev/newsroom/keyvault"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/budget"
	"github.com/newsroom-dev/newsroom/model/cache"
	"github.com/newsroom-dev/newsroom/model/cache/memory"
	cacheredis "github.com/newsroom-dev/newsroom/model/cache/redis"
	cachesqlite "github.com/newsroom-dev/newsroom/model/cache/sqlite"
	"github.com/newsroom-dev/newsroom/model/cost"
	"github.com/newsroom-dev/newsroom/model/pool"
	"github.com/newsroom-dev/newsroom/model/preflight"
	"github.com/newsroom-dev/newsroom/model/provider"
	"github.com/newsroom-dev/newsroom/model/ratelimit"
	"github.com/newsroom-dev/newsroom/model/retry"
	"github.com/newsroom-dev/newsroom/pipeline"
	"github.com/newsroom-dev/newsroom/telemetry"
)

// loadConfig loads and validates the configuration; errors are
// configuration errors (exit code 2). Key Vault references are resolved with
// the same Azure credential the model uses.
func loadConfig(ctx context.Context, mf *modelFlags) (*config.Config, error) {
	flags := map[string]string{}
	envFile := ".env"
	if mf != nil {
		flags, envFile = mf.set(), mf.envFile
	}
	cfg, err := config.LoadContext(ctx, config.Sources{Flags: flags, Env: os.LookupEnv, DotEnvPath: envFile,
		Resolver: &lazyResolver{}})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	return cfg, nil
}

// lazyResolver creates the Azure credential only when a setting really is a
// Key Vault reference.
type lazyResolver struct {
	once sync.Once
	r    *keyvault.Resolver
	err  error
}

func (l *lazyResolver) Resolve(ctx context.Context, ref string) (string, error) {
	l.once.Do(func() {
		var cred azcore.TokenCredential
		cred, l.err = provider.DefaultCredential(nil)
		l.r = keyvault.NewResolver(cred, keyvault.Options{})
	})
	if l.err != nil {
		return "", fmt.Errorf("key vault: no Azure credential: %w", l.err)
	}
	return l.r.Resolve(ctx, ref)
}

// modelInfo describes the model a stack talks to.
type modelInfo struct {
	// Model is what the summary shows, e.g. "gpt-4o (Azure deployment x)".
	Model    string
	Emulated bool
	Kind     string
	// Deployment is the default deployment (Azure) or model every call
	// that names none goes to; Deployments every one the stack calls (a
	// pool's members).
	Deployment  string
	Deployments []string
}

// modelStack is a process's model client: provider, pipeline, telemetry.
type modelStack struct {
	Info     modelInfo
	Pipeline *pipeline.Pipeline
	Config   *config.Config
	Tel      *telemetry.Provider
	Alerts   *alerts.Monitor
	Logger   *slog.Logger
	Emulator *emulator.Running
	// Limits are what every call must fit in, for preflight.CheckTask.
	Limits  preflight.Limits
	closers []func()
}

// Close releases what the stack opened (cache files, the emulator, telemetry).
func (s *modelStack) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// RunClient returns the client for one run: the shared pipeline, with the
// run's budget (flags, else the configured per-run budget) travelling in the
// context of each call.
func (s *modelStack) RunClient(budgetUSD float64, maxTokens int) model.Client {
	if budgetUSD <= 0 {
		budgetUSD = s.Config.BudgetUSD
	}
	if budgetUSD <= 0 && maxTokens <= 0 {
		return s.Pipeline.Client
	}
	tr := budget.NewTracker(budget.Run{MaxUSD: budgetUSD, MaxTokens: maxTokens})
	next := s.Pipeline.Client
	return model.ClientFunc(func(ctx context.Context, req *model.Request) (*model.Response, error) {
		return next.Complete(budget.WithTracker(ctx, tr), req)
	})
}

// stackOptions tune buildModel for a command.
type stackOptions struct {
	// LogFormat is "text" (console) or "json" (service); LogLevel its level.
	LogFormat string
	LogLevel  slog.Level
	// Prometheus serves /metrics (the service).
	Prometheus bool
}

// buildModel loads the configuration and builds the model stack. With no
// model configured it starts the in-process emulator and talks to it over
// the Azure protocol, so the offline path exercises the real client.
func buildModel(ctx context.Context, mf *modelFlags, stderr io.Writer, opts stackOptions) (*modelStack, error) {
	cfg, err := loadConfig(ctx, mf)
	if err != nil {
		return nil, err
	}
	if opts.LogFormat == "" {
		opts.LogFormat, opts.LogLevel = "text", slog.LevelWarn
	}
	s := &modelStack{Config: cfg, Logger: telemetry.NewLogger(stderr, opts.LogFormat, opts.LogLevel)}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()

	s.Tel, err = telemetry.Setup(ctx, telemetry.Config{ServiceVersion: buildVersion(), Prometheus: opts.Prometheus})
	if err != nil {
		return nil, fmt.Errorf("%w: telemetry: %w", errConfig, err)
	}
	s.closers = append(s.closers, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Tel.Shutdown(sctx)
	})
	a := cfg.Alerts
	s.Alerts, err = alerts.New(alerts.Config{Logger: s.Logger, Meter: s.Tel.Meter(),
		MaxLatency: a.MaxLatency, MinSuccessRate: a.MinSuccessRate, MaxQuotaUsed: a.MaxQuotaUsed,
		MaxOverBudget: a.MaxOverBudget, MaxAuthFailures: a.MaxAuthFailures})
	if err != nil {
		return nil, fmt.Errorf("%w: alerts: %w", errConfig, err)
	}

	limiter := ratelimit.NewLimiter(ratelimit.LimiterConfig{RequestsPerMinute: cfg.RPM, TokensPerMinute: cfg.TPM})
	pc := cfg.ProviderConfig()
	pc.HTTPClient = httpx.NewClient(httpx.Options{})
	pc.OnRateLimitHeaders = limiter.Observe
	deployment, modelName := cfg.Model.Deployment, cfg.Model.Model
	var bottom model.Client
	var built *pool.Built
	switch kind := cfg.Model.Kind; {
	case cfg.DeploymentsFile != "":
		if built, err = s.buildPool(cfg, pc.HTTPClient); err != nil {
			return nil, err
		}
		bottom, limiter = built, built.Limiter
		deployment, modelName = built.Names()[0], built.ModelName
		pc = provider.Config{}
	case kind == config.KindEmulator:
		s.Emulator, err = emulator.Start(emulator.Config{ContextWindow: cfg.ContextWindow}, emulator.Options{})
		if err != nil {
			return nil, fmt.Errorf("starting the offline emulator: %w", err)
		}
		s.closers = append(s.closers, func() { s.Emulator.Close() })
		deployment, modelName = "gpt-4o", emulator.DefaultModelName
		pc = provider.Config{Kind: provider.KindAzure, Endpoint: s.Emulator.URL, Deployment: deployment,
			APIKey: "offline-emulator", HTTPClient: pc.HTTPClient, OnRateLimitHeaders: limiter.Observe}
		s.Info = modelInfo{Model: "offline emulator (" + modelName + " persona)", Emulated: true, Kind: config.KindEmulator}
	case kind == config.KindAzure:
		if !cfg.Model.APIKey.IsSet() {
			cred, err := provider.DefaultCredential(nil)
			if err != nil {
				return nil, fmt.Errorf("%w: no API key and no Entra ID credential: %w", errConfig, err)
			}
			pc.Credential = cred
		}
		s.Info = modelInfo{Model: deployment + " (Azure OpenAI deployment)", Kind: config.KindAzure}
		if modelName == "" {
			modelName = deployment // the price table matches the deployment name when it names a model
		}
	default:
		deployment = modelName
		s.Info = modelInfo{Model: modelName, Kind: config.KindOpenAI}
	}
	s.Limits = preflight.Limits{Model: modelName, ContextWindow: cfg.ContextWindow, TokensPerMinute: cfg.TPM}
	s.Info.Deployment, s.Info.Deployments = deployment, []string{deployment}
	if built != nil {
		s.Info.Deployments = built.Names()
	}
	if bottom == nil {
		prov, err := provider.New(pc)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errConfig, err)
		}
		bottom = prov
	}

	prices := cost.Default()
	if cfg.PricesFile != "" {
		if prices, err = cost.LoadPrices(cfg.PricesFile); err != nil {
			return nil, fmt.Errorf("%w: %w", errConfig, err)
		}
	}
	store, err := s.openCache(ctx, cfg, mf.noCache)
	if err != nil {
		return nil, err
	}
	var daily *budget.Daily
	if cfg.DailyBudgetUSD > 0 {
		daily = budget.NewDaily(budget.DailyConfig{BudgetUSD: cfg.DailyBudgetUSD, OnAlert: func(a budget.Alert) {
			s.Logger.Warn("daily budget", "alert", a.Kind, "spent_usd", a.SpentUSD, "budget_usd", a.BudgetUSD, "day", a.Day)
			s.Alerts.ObserveCost(a.SpentUSD, a.BudgetUSD)
		}})
	}
	host, port := hostPort(firstNonEmpty(pc.Endpoint, pc.BaseURL))
	namespace := firstNonEmpty(pc.Endpoint, pc.BaseURL) + "|" + deployment
	if s.Info.Emulated {
		namespace = "emulator|" + deployment // its port changes with every process
	}
	if built != nil {
		namespace = "pool|" + strings.Join(built.Names(), ",")
	}
	s.Pipeline = pipeline.New(pipeline.Config{
		Provider: bottom, Deployment: deployment, ModelName: modelName,
		Namespace: namespace,
		Limiter:   limiter,
		// A pool's members limit themselves, each in its own bucket.
		LimiterOff: built != nil,
		Retry:      retry.Config{OnRetry: s.Tel.OnRetry},
		Cache:      cache.Config{Store: store, OnError: func(op string, err error) { s.Logger.Warn("cache "+op+" failed", "error", err) }},
		Prices:     prices,
		OnUnknownModel: func(name string) {
			s.Logger.Warn("no price for this model: its calls are counted as $0; add it with --prices-file", "model", name)
		},
		Daily: daily,
		Telemetry: telemetry.Middleware(s.Tel, telemetry.MiddlewareOptions{ProviderName: providerName(cfg.Model.Kind),
			DefaultModel: modelName, ServerAddress: host, ServerPort: port,
			OnCall: func(latency time.Duration, err error) {
				s.Alerts.ObserveModelCall(latency, err)
				s.Alerts.ObserveQuota(limiter.Stats(deployment).UsedFraction)
				if daily != nil {
					s.Alerts.ObserveCost(daily.Spent(), daily.Budget())
				}
			}}),
	})
	if stop, err := s.Tel.ObserveQuota(func() float64 { return limiter.Stats(deployment).UsedFraction }); err == nil {
		s.closers = append(s.closers, func() { _ = stop() })
	}
	ok = true
	return s, nil
}

func providerName(kind string) string {
	if kind == config.KindOpenAI {
		return telemetry.ProviderOpenAI
	}
	return telemetry.ProviderAzureOpenAI
}

// openCache opens the configured response cache store; nil means no cache.
func (s *modelStack) openCache(ctx context.Context, cfg *config.Config, off bool) (cache.Store, error) {
	if off {
		return nil, nil
	}
	switch cfg.Cache {
	case config.CacheOff, "":
		return nil, nil
	case config.CacheMemory:
		return memory.New(memory.Config{}), nil
	case config.CacheRedis:
		u, err := url.Parse(cfg.RedisURL.Value())
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("%w: NEWSROOM_REDIS_URL must be redis://HOST:PORT for --cache redis", errConfig)
		}
		st, err := cacheredis.New(cacheredis.Config{Addr: u.Host})
		if err != nil {
			return nil, fmt.Errorf("%w: redis cache: %w", errConfig, err)
		}
		s.closers = append(s.closers, func() { _ = st.Close() })
		return st, nil
	case config.CacheSQLite:
		path := cfg.CachePath
		if path == "" {
			dir, err := os.UserCacheDir()
			if err != nil {
				dir = os.TempDir()
			}
			path = filepath.Join(dir, "newsroom", "responses.db")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("%w: cache directory: %w", errConfig, err)
		}
		st, err := cachesqlite.Open(ctx, cachesqlite.Config{Path: path})
		if err != nil {
			return nil, fmt.Errorf("%w: sqlite cache %s: %w", errConfig, path, err)
		}
		s.closers = append(s.closers, func() { _ = st.Close() })
		return st, nil
	}
	return nil, fmt.Errorf("%w: unknown cache %q (want off, memory, sqlite or redis)", errConfig, cfg.Cache)
}

func hostPort(raw string) (string, int) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", 0
	}
	p, _ := strconv.Atoi(u.Port())
	return u.Hostname(), p
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
