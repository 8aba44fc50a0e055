// Package modelstack builds a process's model stack from its configuration,
// in one place, for every entry point (newsroom run, newsroom serve,
// newsroom bench): the provider client (or the offline emulator), the quota
// limiter fed by the provider's rate-limit headers, retry, cost, budget,
// the response cache and the telemetry middleware, composed in the order
// that makes each of them right:
//
//	telemetry → cache → similarity cache → budget → cost → retry → quota limiter → provider
//
// Telemetry sees every call as the agent made it, cache hits included, with
// its final cost. A cache hit costs nothing, so it never reaches the budget
// (a run close to its budget is not stopped by a call the cache answers), the
// retry, the limiter or the network. The budget checks a call's worst case
// before anything is spent and counts the priced result; the cost middleware
// prices what the service answered. Every retry attempt passes the limiter,
// so retries spend quota like any call, and the provider makes no retries of
// its own: one retry policy for the process.
//
// Callers ask the Stack for clients rather than wiring middleware: Client
// returns the client of a deployment, RunClient the client of one run with
// its budget. A stack talks to one deployment, or, when the configuration
// names a deployments file, to a pool of them (package model/pool: failover,
// a circuit breaker and a quota bucket per member) under the same pipeline.
// Code that asks for a client per deployment (desk files naming one) goes
// through Client, so pinning a client to a pool member changes this package
// only.
package modelstack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/newsroom-dev/newsroom/alerts"
	"github.com/newsroom-dev/newsroom/config"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/entra"
	"github.com/newsroom-dev/newsroom/httpx"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/budget"
	"github.com/newsroom-dev/newsroom/model/budget/redisspend"
	"github.com/newsroom-dev/newsroom/model/cache"
	"github.com/newsroom-dev/newsroom/model/cache/memory"
	cachepostgres "github.com/newsroom-dev/newsroom/model/cache/postgres"
	cacheredis "github.com/newsroom-dev/newsroom/model/cache/redis"
	cachesqlite "github.com/newsroom-dev/newsroom/model/cache/sqlite"
	"github.com/newsroom-dev/newsroom/model/cost"
	"github.com/newsroom-dev/newsroom/model/pool"
	"github.com/newsroom-dev/newsroom/model/preflight"
	"github.com/newsroom-dev/newsroom/model/profile"
	"github.com/newsroom-dev/newsroom/model/provider"
	"github.com/newsroom-dev/newsroom/model/ratelimit"
	"github.com/newsroom-dev/newsroom/model/ratelimit/redisquota"
	"github.com/newsroom-dev/newsroom/model/retry"
	"github.com/newsroom-dev/newsroom/telemetry"
)

// Errors of Build.
var (
	// ErrConfig is wrapped by errors in the configuration (exit code 2).
	ErrConfig = errors.New("modelstack: invalid configuration")
	// ErrUnknownDeployment is returned by Client for a deployment the stack
	// does not have.
	ErrUnknownDeployment = errors.New("modelstack: unknown deployment")
)

// Options configure Build. Config is required; every other zero value is
// the production default.
type Options struct {
	// Config is the loaded and validated configuration. Required.
	Config *config.Config
	// Logger receives the stack's warnings (cache errors, unpriced models,
	// daily budget alerts); nil discards them.
	Logger *slog.Logger
	// Telemetry records spans and metrics of every call; nil means none.
	Telemetry *telemetry.Provider
	// Alerts is told about every call, the quota used and the daily spend;
	// nil means no alerts.
	Alerts *alerts.Monitor
	// HTTPClient is the process's shared client; nil means httpx.NewClient.
	HTTPClient *http.Client
	// NoCache turns the configured response cache off. Cache, when set,
	// replaces the configured cache (benchmarks).
	NoCache bool
	Cache   *cache.Config
	// Limiter is a quota limiter to use instead of a new one sized by the
	// configuration's RPM and TPM; LimiterOff removes the limiter.
	Limiter    *ratelimit.Limiter
	LimiterOff bool
	// Retry is the retry policy (its OnRetry defaults to the telemetry's);
	// RetryOff removes retries.
	Retry    retry.Config
	RetryOff bool
	// Bottom wraps the provider client, below the limiter and the retries:
	// a benchmark's meter, or serve's measure of the calls' sizes and
	// durations (server.CallStats). Nil means none.
	Bottom model.Middleware
	// Similar adjusts the configured similarity cache (a benchmark's
	// embedding length and its tally of lookups).
	Similar SimilarOptions
	// Pool adjusts the deployments pool (a benchmark's deployments,
	// timeouts and failover count).
	Pool PoolOptions
	// Spend keeps the daily spending for every instance of the service when
	// no Redis is configured (NEWSROOM_REDIS_URL wins): `serve` passes the
	// PostgreSQL store's (store/postgres Spend). Nil means this process
	// alone, without Redis.
	Spend budget.SpendStore
	// Emulator configures the offline emulator started when the model kind
	// is config.KindEmulator; its ContextWindow defaults to the
	// configuration's.
	Emulator emulator.Config
}

// EmulatorDeployment is the deployment the offline emulator's requests name.
const EmulatorDeployment = "gpt-5"

// Info describes the model a stack talks to.
type Info struct {
	// Model is what summaries show, e.g. "gpt-4o (Azure OpenAI deployment)".
	Model string
	// Emulated is true when the model is the offline emulator.
	Emulated bool
	// Kind is the configuration's model kind.
	Kind string
	// Deployment is where requests without a Model go; ModelName is the
	// model behind it, for pricing.
	Deployment, ModelName string
	// Deployments are every name a request's Model may give: the
	// configured deployment, or a pool's pools and members.
	Deployments []string
}

// Stack is a process's model stack. It is safe for concurrent use.
type Stack struct {
	Info Info
	// Limiter is the quota limiter (nil when off); with a pool, the pool's
	// (one bucket per member).
	Limiter *ratelimit.Limiter
	// Pool is the deployment pool when the configuration names a
	// deployments file; nil otherwise.
	Pool *pool.Built
	// Daily is the process's daily budget (nil when none is configured).
	Daily *budget.Daily
	// Emulator is the offline emulator this stack started, if any.
	Emulator *emulator.Running
	// Limits are what every call must fit in, for preflight.CheckTask.
	Limits preflight.Limits

	root       *composed
	cfg        *config.Config
	profiles   *profile.Set
	rdb        *redis.Client
	credential azcore.TokenCredential
	entraCred  entra.CredentialSource
	pg         *pgxpool.Pool
	last       *outcome
	closeOnce  sync.Once
	closers    []func()
}

// Build builds the stack. It makes no model call; it starts the emulator
// when the configuration names no model. Close releases what it opened.
func Build(ctx context.Context, opts Options) (_ *Stack, err error) {
	cfg := opts.Config
	if cfg == nil {
		return nil, fmt.Errorf("%w: no configuration", ErrConfig)
	}
	b := &builder{opts: opts, cfg: cfg, log: opts.Logger, hc: opts.HTTPClient, s: &Stack{cfg: cfg, last: &outcome{}}}
	if b.log == nil {
		b.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if b.hc == nil {
		b.hc = httpx.NewClient(httpx.Options{})
	}
	defer func() {
		if err != nil {
			b.s.Close()
		}
	}()
	b.limiter()
	bottom, err := b.target()
	if err != nil {
		return nil, err
	}
	l := layers{Provider: bottom, Deployment: b.deployment, ModelName: b.modelName, Namespace: b.namespace(),
		Limiter: b.s.Limiter, LimiterOff: b.opts.LimiterOff || b.s.Pool != nil, RetryOff: opts.RetryOff,
		OnUnknownModel: func(name string) {
			b.log.Warn("no price for this model: its calls are counted as $0; add it with --prices-file", "model", name)
		}}
	if l.Prices, err = b.prices(); err != nil {
		return nil, err
	}
	if l.Cache, l.Similar, err = b.caches(ctx, l.Namespace, l.Prices); err != nil {
		return nil, err
	}
	if l.Daily, err = b.daily(); err != nil {
		return nil, err
	}
	if l.SharedQuota, err = b.s.sharedQuota(cfg); err != nil {
		return nil, err
	}
	l.Retry = opts.Retry
	if l.Retry.OnRetry == nil && opts.Telemetry != nil {
		l.Retry.OnRetry = opts.Telemetry.OnRetry
	}
	l.Telemetry = b.telemetry()
	b.s.root = compose(l)
	return b.s, nil
}

// builder builds one Stack, one part per method, in the order Build calls
// them: the limiter, the target (provider, emulator or pool), prices,
// caches, the daily budget, telemetry.
type builder struct {
	s    *Stack
	opts Options
	cfg  *config.Config
	log  *slog.Logger
	hc   *http.Client
	// pc is the provider's configuration (zero for a pool); deployment is
	// where requests without a Model go, modelName the model behind it.
	pc                    provider.Config
	deployment, modelName string
}

// limiter sets the stack's quota limiter: the given one, or one sized by
// the configuration's RPM and TPM, unless it is off.
func (b *builder) limiter() {
	if b.opts.LimiterOff {
		return
	}
	b.s.Limiter = b.opts.Limiter
	if b.s.Limiter == nil {
		b.s.Limiter = ratelimit.NewLimiter(ratelimit.LimiterConfig{RequestsPerMinute: b.cfg.RPM, TokensPerMinute: b.cfg.TPM})
	}
}

// observe feeds the service's rate-limit headers to the limiter.
func (b *builder) observe(deployment string, requests, tokens int) {
	if b.s.Limiter != nil {
		b.s.Limiter.Observe(deployment, requests, tokens)
	}
}

// target returns the bottom of the stack: a pool of deployments, the
// offline emulator, or the configured provider, wrapped so /readyz learns
// the latest call's outcome, under the caller's Bottom.
func (b *builder) target() (model.Client, error) {
	s, cfg := b.s, b.cfg
	// A price file may describe models the built-in profiles do not know.
	prices, err := b.prices()
	if err != nil {
		return nil, err
	}
	s.profiles = profile.NewSet(profile.Default().Merge(prices.Profiles()), nil)
	b.pc = cfg.ProviderConfig()
	b.pc.HTTPClient, b.pc.OnRateLimitHeaders, b.pc.Profiles, b.pc.OnAdapt = b.hc, b.observe, s.profiles, b.onAdapt
	b.deployment, b.modelName = cfg.Model.Deployment, cmp.Or(cfg.Model.DeploymentModel, cfg.Model.Model)
	var bottom model.Client
	switch kind := cfg.Model.Kind; {
	case cfg.DeploymentsFile != "" || b.opts.Pool.Deployments != nil:
		p, err := b.pool()
		if err != nil {
			return nil, err
		}
		bottom = p
	case kind == config.KindEmulator:
		if err := b.emulator(); err != nil {
			return nil, err
		}
	case kind == config.KindAzure:
		if !cfg.Model.APIKey.IsSet() {
			cred, err := provider.DefaultCredential(nil)
			if err != nil {
				return nil, fmt.Errorf("%w: no API key and no Entra ID credential: %w", ErrConfig, err)
			}
			b.pc.Credential, s.credential = cred, cred
		}
		s.Info = Info{Model: b.deployment + " (Azure OpenAI deployment)", Kind: config.KindAzure}
		if b.modelName == "" {
			b.modelName = b.deployment // the price and profile tables match the deployment name when it names a model
		}
	default:
		b.deployment = b.modelName
		s.Info = Info{Model: b.modelName, Kind: config.KindOpenAI}
	}
	s.Info.Deployment, s.Info.ModelName, s.Info.Deployments = b.deployment, b.modelName, []string{b.deployment}
	if s.Pool != nil {
		s.Info.Deployments = s.Pool.Targets()
	}
	s.Limits = preflight.Limits{Model: b.modelName, ContextWindow: cfg.ContextWindow, TokensPerMinute: cfg.TPM}
	if bottom == nil {
		prov, err := provider.New(b.pc)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		bottom = prov
	}
	// The outcome of the latest call tells /readyz whether an API key works.
	bottom = &recordOutcome{next: bottom, last: s.last}
	if b.opts.Bottom != nil {
		bottom = b.opts.Bottom(bottom)
	}
	return bottom, nil
}

// pool builds the deployments pool. A pool's members limit themselves,
// each in its own bucket; requests without a Model (and desk agents that
// name none) go to the default pool, and agents may name another pool or a
// member.
func (b *builder) pool() (*pool.Built, error) {
	s := b.s
	p, err := buildPool(b.cfg, b.opts.Pool, b.hc, b.log, b.opts.Telemetry)
	if err != nil {
		return nil, err
	}
	s.Pool = p
	s.Limiter, b.opts.LimiterOff = p.Limiter, true
	b.deployment, b.modelName = p.Default(), p.ModelName
	b.pc = provider.Config{}
	s.Info = poolInfo(p)
	return p, nil
}

// onAdapt logs a deployment refusing a parameter its model's profile said
// it takes (the provider adapted the call and sent it again, once).
func (b *builder) onAdapt(deployment, param, code string) {
	b.log.Warn("the deployment refused a parameter its model profile expected: adapted and sent again; set its model (AZURE_OPENAI_MODEL or model: in the deployments file) to skip this",
		"deployment", deployment, "parameter", param, "code", code)
}

// emulator starts the offline emulator and points the provider at it.
func (b *builder) emulator() error {
	s := b.s
	ec := b.opts.Emulator
	if ec.ContextWindow == 0 {
		ec.ContextWindow = b.cfg.ContextWindow
	}
	em, err := emulator.Start(ec, emulator.Options{})
	if err != nil {
		return fmt.Errorf("modelstack: starting the offline emulator: %w", err)
	}
	s.Emulator = em
	s.closers = append(s.closers, func() { em.Close() })
	b.deployment, b.modelName = EmulatorDeployment, cmp.Or(ec.ModelName, emulator.DefaultModelName)
	b.pc = provider.Config{Kind: provider.KindAzure, Endpoint: em.URL, Deployment: b.deployment, DeploymentModel: b.modelName,
		APIKey: "offline-emulator", HTTPClient: b.hc, OnRateLimitHeaders: b.observe, OnAdapt: b.onAdapt, Profiles: s.profiles}
	s.Info = Info{Model: "offline emulator (" + b.modelName + " persona)", Emulated: true, Kind: config.KindEmulator}
	return nil
}

// prices is the price table: the configuration's prices file, or the default.
func (b *builder) prices() (*cost.Table, error) {
	if b.cfg.PricesFile == "" {
		return cost.Default(), nil
	}
	prices, err := cost.LoadPrices(b.cfg.PricesFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return prices, nil
}

// namespace separates the cache entries of different endpoints and
// deployments sharing a store.
func (b *builder) namespace() string {
	switch {
	case b.s.Pool != nil:
		return "pool|" + strings.Join(b.s.Pool.Names(), ",")
	case b.s.Info.Emulated:
		return "emulator|" + b.deployment // its port changes with every process
	}
	return cmp.Or(b.pc.Endpoint, b.pc.BaseURL) + "|" + b.deployment
}

// caches returns the response cache (the caller's, the configured one, or
// none) and the similarity cache asked after an exact miss (nil for none).
func (b *builder) caches(ctx context.Context, namespace string, prices *cost.Table) (cache.Config, model.Middleware, error) {
	cc := cache.Config{}
	if b.opts.Cache != nil {
		cc = *b.opts.Cache
	} else if !b.opts.NoCache {
		st, err := b.s.openCache(ctx, b.cfg)
		if err != nil {
			return cc, nil, err
		}
		cc = cache.Config{Store: st, OnError: func(op string, err error) { b.log.Warn("cache "+op+" failed", "error", err) }}
	}
	if cc.Store == nil {
		return cc, nil, nil
	}
	similarMW, err := b.s.similarCache(ctx, b.cfg, b.opts.Similar, cc.Store, embeddingsConfig(b.pc, b.s.Pool, b.hc), namespace, prices, b.log, b.opts.Telemetry)
	return cc, similarMW, err
}

// daily is the process's daily budget, shared with the service's other
// instances through Redis or the caller's spend store; nil when none is
// configured.
func (b *builder) daily() (*budget.Daily, error) {
	if b.cfg.DailyBudgetUSD <= 0 {
		return nil, nil
	}
	shared, err := b.s.sharedSpend(b.cfg)
	if err != nil {
		return nil, err
	}
	if shared == nil {
		shared = b.opts.Spend
	}
	alerts := b.opts.Alerts
	b.s.Daily = budget.NewDaily(budget.DailyConfig{BudgetUSD: b.cfg.DailyBudgetUSD, Shared: shared, OnAlert: func(a budget.Alert) {
		b.log.Warn("daily budget", "alert", a.Kind, "spent_usd", a.SpentUSD, "budget_usd", a.BudgetUSD, "day", a.Day)
		if alerts != nil {
			alerts.ObserveCost(a.SpentUSD, a.BudgetUSD)
		}
	}})
	return b.s.Daily, nil
}

// telemetry is the outermost middleware (spans, metrics, alerts of every
// call) and the quota gauge; nil without telemetry.
func (b *builder) telemetry() model.Middleware {
	tel, al, s := b.opts.Telemetry, b.opts.Alerts, b.s
	if tel == nil {
		return nil
	}
	deployment := b.deployment
	host, port := hostPort(cmp.Or(b.pc.Endpoint, b.pc.BaseURL))
	mw := telemetry.Middleware(tel, telemetry.MiddlewareOptions{ProviderName: providerName(b.cfg.Model.Kind),
		DefaultModel: b.modelName, ServerAddress: host, ServerPort: port,
		OnCall: func(latency time.Duration, err error) {
			if al == nil {
				return
			}
			al.ObserveModelCall(latency, err)
			if s.Limiter != nil {
				al.ObserveQuota(s.Limiter.Stats(deployment).UsedFraction)
			}
			if s.Daily != nil {
				al.ObserveCost(s.Daily.Spent(), s.Daily.Budget())
			}
		}})
	if s.Limiter != nil {
		if stop, err := tel.ObserveQuota(func() float64 { return s.Limiter.Stats(deployment).UsedFraction }); err == nil {
			s.closers = append(s.closers, func() { _ = stop() })
		}
	}
	return mw
}

// Close releases what Build opened (cache files, the emulator, gauges).
func (s *Stack) Close() {
	s.closeOnce.Do(func() {
		for i := len(s.closers) - 1; i >= 0; i-- {
			s.closers[i]()
		}
	})
}

// Client returns the client of a deployment: "" (or the configured
// deployment's name) is the stack's default, the whole pipeline (over the
// pool when there is one). Another name is ErrUnknownDeployment. Desks
// that name a pool or one of its deployments need no client of their own:
// the pool routes by each request's Model (see model/pool).
func (s *Stack) Client(deployment string) (model.Client, error) {
	if deployment == "" || deployment == s.Info.Deployment {
		return s.root.Client, nil
	}
	return nil, fmt.Errorf("%w %q (this stack has %q)", ErrUnknownDeployment, deployment, s.Info.Deployment)
}

// Root returns the whole stack's client, shared by every run (over the pool
// when there is one).
func (s *Stack) Root() model.Client { return s.root.Client }

// Profile returns the profile of the model behind a deployment a desk
// names ("" is the stack's default): for a pool, of the first member
// named so or in the pool so named; else what the provider knows (the
// configured model, the deployment's name, the model of its first answer).
func (s *Stack) Profile(deployment string) profile.Profile {
	if s.Pool != nil && s.Pool.File != nil {
		name := cmp.Or(deployment, s.Info.Deployment)
		for _, d := range s.Pool.File.Deployments {
			if d.Name == name || cmp.Or(d.Pool, pool.DefaultPool) == name {
				p, _ := s.profiles.Table().Lookup(cmp.Or(d.Model, d.Deployment))
				return p
			}
		}
		return profile.Profile{}
	}
	if deployment == "" || deployment == s.Info.Deployment {
		s.profiles.Configure(s.Info.Deployment, s.Info.ModelName)
		return s.profiles.Profile(s.Info.Deployment)
	}
	return s.profiles.Profile(deployment)
}

// RunClient returns the client for one run: the shared pipeline, with the
// run's budget (budgetUSD, else the configured per-run budget; maxTokens 0
// means no token budget) travelling in the context of each call.
func (s *Stack) RunClient(budgetUSD float64, maxTokens int) model.Client {
	return s.ResumedRunClient(budgetUSD, maxTokens, model.Usage{})
}

// ResumedRunClient is RunClient for a run resumed from its checkpoint:
// spent, what its earlier legs used, counts against its budget.
func (s *Stack) ResumedRunClient(budgetUSD float64, maxTokens int, spent model.Usage) model.Client {
	if budgetUSD <= 0 {
		budgetUSD = s.cfg.BudgetUSD
	}
	return budget.ForRun(s.root.Client, budget.Run{MaxUSD: budgetUSD, MaxTokens: maxTokens}, spent)
}

// entraCredential is where Entra ID sign-in tokens for PostgreSQL and Redis
// come from: the model's credential when it has one, else
// DefaultAzureCredential.
func (s *Stack) entraCredential() entra.CredentialSource {
	if s.credential != nil {
		return entra.Static(s.credential)
	}
	if s.entraCred == nil {
		s.entraCred = entra.DefaultCredential()
	}
	return s.entraCred
}

// redisClient is the shared Redis of NEWSROOM_REDIS_URL, opened once (signing
// in with a password or an Entra ID token, NEWSROOM_REDIS_AUTH); nil when
// none is configured.
func (s *Stack) redisClient(cfg *config.Config) (*redis.Client, error) {
	if s.rdb != nil {
		return s.rdb, nil
	}
	raw := cfg.RedisURL.Value()
	if raw == "" {
		return nil, nil
	}
	opt, err := entra.RedisOptions(raw, cfg.RedisAuth, s.entraCredential())
	if err != nil {
		return nil, fmt.Errorf("%w: NEWSROOM_REDIS_URL: %w", ErrConfig, err)
	}
	s.rdb = redis.NewClient(opt)
	s.closers = append(s.closers, func() { _ = s.rdb.Close() })
	return s.rdb, nil
}

// sharedSpend is the daily spending every instance shares through Redis
// when NEWSROOM_REDIS_URL is set; nil otherwise (this process alone).
func (s *Stack) sharedSpend(cfg *config.Config) (budget.SpendStore, error) {
	rdb, err := s.redisClient(cfg)
	if rdb == nil || err != nil {
		return nil, err
	}
	return redisspend.New(redisspend.Config{Client: rdb})
}

// sharedQuota is the deployment's request and token windows every instance
// shares through Redis when NEWSROOM_REDIS_URL is set and a quota is
// configured; nil otherwise. A pool's members keep their own buckets.
func (s *Stack) sharedQuota(cfg *config.Config) (ratelimit.SharedQuota, error) {
	if s.Pool != nil || (cfg.RPM <= 0 && cfg.TPM <= 0) {
		return nil, nil
	}
	rdb, err := s.redisClient(cfg)
	if rdb == nil || err != nil {
		return nil, err
	}
	return redisquota.New(redisquota.Config{Client: rdb, RequestsPerMinute: cfg.RPM, TokensPerMinute: cfg.TPM})
}

// openCache opens the configured response cache store; nil means no cache.
func (s *Stack) openCache(ctx context.Context, cfg *config.Config) (cache.Store, error) {
	switch cfg.Cache {
	case config.CacheOff, "":
		return nil, nil
	case config.CacheMemory:
		return memory.New(memory.Config{}), nil
	case config.CacheRedis:
		rdb, err := s.redisClient(cfg)
		if err != nil {
			return nil, err
		}
		if rdb == nil {
			return nil, fmt.Errorf("%w: --cache redis needs NEWSROOM_REDIS_URL", ErrConfig)
		}
		st, err := cacheredis.New(cacheredis.Config{Client: rdb})
		if err != nil {
			return nil, fmt.Errorf("%w: redis cache: %w", ErrConfig, err)
		}
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
			return nil, fmt.Errorf("%w: cache directory: %w", ErrConfig, err)
		}
		st, err := cachesqlite.Open(ctx, cachesqlite.Config{Path: path})
		if err != nil {
			return nil, fmt.Errorf("%w: sqlite cache %s: %w", ErrConfig, path, err)
		}
		s.closers = append(s.closers, func() { _ = st.Close() })
		return st, nil
	case config.CachePostgres:
		pool, err := s.postgresPool(ctx, cfg)
		if err != nil {
			return nil, err
		}
		st, err := cachepostgres.New(ctx, cachepostgres.Config{Pool: pool})
		if err != nil {
			return nil, fmt.Errorf("%w: postgres cache: %w", ErrConfig, err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("%w: unknown cache %q (want off, memory, sqlite, redis or postgres)", ErrConfig, cfg.Cache)
}

// postgresPool is the pool of NEWSROOM_DATABASE_URL for the response cache
// and its similarity index, opened once (signing in as NEWSROOM_DATABASE_AUTH
// says).
func (s *Stack) postgresPool(ctx context.Context, cfg *config.Config) (*pgxpool.Pool, error) {
	if s.pg != nil {
		return s.pg, nil
	}
	pc, err := entra.PostgresConfig(cfg.DatabaseURL.Value(), cfg.DatabaseAuth, s.entraCredential())
	if err != nil {
		return nil, fmt.Errorf("%w: NEWSROOM_DATABASE_URL: %w", ErrConfig, err)
	}
	pc.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("%w: postgres cache %s:%d/%s: %w", ErrConfig, pc.ConnConfig.Host, pc.ConnConfig.Port, pc.ConnConfig.Database, err)
	}
	s.pg = pool
	s.closers = append(s.closers, pool.Close)
	return pool, nil
}

func providerName(kind string) string {
	if kind == config.KindOpenAI {
		return telemetry.ProviderOpenAI
	}
	return telemetry.ProviderAzureOpenAI
}

func hostPort(raw string) (string, int) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", 0
	}
	p, _ := strconv.Atoi(u.Port())
	return u.Hostname(), p
}
