package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/newsroom-dev/newsroom/alerts"
	"github.com/newsroom-dev/newsroom/config"
	"github.com/newsroom-dev/newsroom/entra"
	"github.com/newsroom-dev/newsroom/keyvault"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/budget"
	"github.com/newsroom-dev/newsroom/model/provider"
	"github.com/newsroom-dev/newsroom/modelstack"
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

// modelStack is a process's model stack (built by modelstack.Build) with
// the process-wide parts around it: telemetry, alerts and the logger.
type modelStack struct {
	*modelstack.Stack
	Config  *config.Config
	Tel     *telemetry.Provider
	Alerts  *alerts.Monitor
	Logger  *slog.Logger
	closers []func()
}

// Close releases the model stack and the telemetry.
func (s *modelStack) Close() {
	if s.Stack != nil {
		s.Stack.Close()
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// stackOptions tune buildModel for a command.
type stackOptions struct {
	// Config is the configuration when the command loaded it already
	// (serve: for the store); nil means buildModel loads it.
	Config *config.Config
	// LogFormat is "text" (console) or "json" (service); LogLevel its level.
	LogFormat string
	LogLevel  slog.Level
	// Prometheus serves /metrics (the service).
	Prometheus bool
	// Spend is the daily spending shared by the service's instances when
	// no Redis is configured (the PostgreSQL store's); nil means none.
	Spend budget.SpendStore
	// Bottom measures the calls below the limiter (serve's observed call
	// sizes and durations); nil means none.
	Bottom model.Middleware
}

// buildModel loads the configuration, sets up telemetry and alerts, and
// asks modelstack for the model stack. With no model configured the stack
// starts the in-process emulator and talks to it over the Azure protocol, so
// the offline path exercises the real client.
func buildModel(ctx context.Context, mf *modelFlags, stderr io.Writer, opts stackOptions) (*modelStack, error) {
	cfg, err := opts.Config, error(nil)
	if cfg == nil {
		if cfg, err = loadConfig(ctx, mf); err != nil {
			return nil, err
		}
	}
	if opts.LogFormat == "" {
		opts.LogFormat, opts.LogLevel = "text", slog.LevelWarn
	}
	s := &modelStack{Config: cfg, Logger: telemetry.NewLogger(stderr, opts.LogFormat, opts.LogLevel)}
	if cfg.RedisURL.IsSet() {
		// go-redis's own lines (a token renewal's routine pool notes, a
		// failed re-authentication) join this log (process-wide).
		entra.RouteRedisLog(s.Logger)
	}
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
	s.Stack, err = modelstack.Build(ctx, modelstack.Options{Config: cfg, Logger: s.Logger, Telemetry: s.Tel,
		Alerts: s.Alerts, NoCache: mf != nil && mf.noCache, Spend: opts.Spend, Bottom: opts.Bottom})
	if errors.Is(err, modelstack.ErrConfig) {
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	if err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}
