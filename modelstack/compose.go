package modelstack

import (
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/budget"
	"github.com/newsroom-dev/newsroom/model/cache"
	"github.com/newsroom-dev/newsroom/model/cost"
	"github.com/newsroom-dev/newsroom/model/ratelimit"
	"github.com/newsroom-dev/newsroom/model/retry"
)

// layers are the parts compose stacks. Only Provider is required; every
// zero value is the production default.
type layers struct {
	// Provider is the bottom client that talks to the service. Required.
	Provider model.Client
	// Deployment is the deployment (or model) requests without a Model go
	// to: the limiter's bucket key.
	Deployment string
	// ModelName is the model behind the deployment, for pricing (an Azure
	// deployment's name need not say which model it runs).
	ModelName string
	// Namespace separates cache entries of different endpoints and
	// deployments sharing a store, e.g. "https://x.openai.azure.com|gpt-4o".
	Namespace string

	// Limiter is the process's shared quota limiter; nil means a new one
	// sized by Quota. LimiterOff removes the limiter (a baseline for
	// benchmarks, or a service with no quota).
	Limiter    *ratelimit.Limiter
	Quota      ratelimit.LimiterConfig
	LimiterOff bool
	// CompletionEstimate is the limiter's reservation for a request without
	// max_tokens; 0 means ratelimit.DefaultCompletionEstimate.
	CompletionEstimate int
	// SharedQuota is the quota shared with the service's other instances
	// (ratelimit.Config.Shared); nil means this process alone.
	SharedQuota ratelimit.SharedQuota

	// Retry is the retry policy; RetryOff disables retries.
	Retry    retry.Config
	RetryOff bool

	// Cache is the response cache; its Store nil or Disabled means no cache.
	Cache cache.Config
	// Similar is the similarity cache (package model/cache/similar), asked
	// after an exact miss; nil means none.
	Similar model.Middleware

	// Prices is the price table; nil means cost.Default().
	Prices *cost.Table
	// OnUnknownModel is told once per model the price table cannot price.
	OnUnknownModel func(modelName string)

	// Daily is the process-wide daily budget; nil means none. Per-run budgets
	// travel in each call's context (budget.WithTracker).
	Daily *budget.Daily

	// Telemetry is the outermost middleware (spans, metrics); nil means none.
	Telemetry model.Middleware
}

// composed is the composed model client of a process, shared by every run.
type composed struct {
	// Client is the whole stack.
	Client model.Client
	// Limiter is the quota limiter in the stack (nil when off), for stats and
	// for the provider's rate-limit headers.
	Limiter *ratelimit.Limiter
	// Prices is the price table the stack uses.
	Prices *cost.Table
}

// compose stacks the middleware over cfg.Provider in their fixed order
// (see the package comment).
func compose(cfg layers) *composed {
	p := &composed{Prices: cfg.Prices}
	if p.Prices == nil {
		p.Prices = cost.Default()
	}
	var mws []model.Middleware
	if cfg.Telemetry != nil {
		mws = append(mws, cfg.Telemetry)
	}
	mws = append(mws,
		cache.New(withNamespace(cfg.Cache, cfg.Namespace)),
		cfg.Similar,
		budget.New(budget.Config{Daily: cfg.Daily, Prices: p.Prices, Model: cfg.ModelName}),
		cost.New(cost.Config{Prices: p.Prices, Model: cfg.ModelName, OnUnknown: cfg.OnUnknownModel}),
	)
	if !cfg.RetryOff {
		mws = append(mws, retry.New(cfg.Retry))
	}
	if !cfg.LimiterOff {
		p.Limiter = cfg.Limiter
		if p.Limiter == nil {
			p.Limiter = ratelimit.NewLimiter(cfg.Quota)
		}
		mws = append(mws, ratelimit.New(ratelimit.Config{Limiter: p.Limiter, Deployment: cfg.Deployment,
			DefaultCompletionEstimate: cfg.CompletionEstimate, Shared: cfg.SharedQuota}))
	}
	p.Client = model.Chain(cfg.Provider, mws...)
	return p
}

func withNamespace(c cache.Config, ns string) cache.Config {
	if c.Namespace == "" {
		c.Namespace = ns
	}
	return c
}
