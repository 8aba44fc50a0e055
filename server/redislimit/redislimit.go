// Package redislimit is the per-key API rate limit of the service shared by
// every instance through Redis (github.com/go-redis/redis_rate, a GCRA
// limiter whose state lives in Redis), so N instances behind a load
// balancer allow a key its requests per minute in total, not N times that.
package redislimit

import (
	"context"
	"errors"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Config configures a Limiter.
type Config struct {
	// Client is the shared Redis. Required.
	Client *redis.Client
	// PerMinute is the requests a key may make per minute, with a burst of
	// the same size. Required (> 0).
	PerMinute int
	// Prefix starts every Redis key; empty means "newsroom:apikey:".
	Prefix string
}

// Limiter limits each API key's requests across instances.
type Limiter struct {
	rl     *redis_rate.Limiter
	limit  redis_rate.Limit
	prefix string
}

// New returns a Limiter, or an error for a missing Client or a limit <= 0.
func New(cfg Config) (*Limiter, error) {
	if cfg.Client == nil {
		return nil, errors.New("redislimit: Client is required")
	}
	if cfg.PerMinute <= 0 {
		return nil, errors.New("redislimit: PerMinute must be positive")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "newsroom:apikey:"
	}
	return &Limiter{rl: redis_rate.NewLimiter(cfg.Client), limit: redis_rate.PerMinute(cfg.PerMinute), prefix: cfg.Prefix}, nil
}

// Allow takes one request for name (an API key's id). When none is left it
// returns false and how long until one is. An error means Redis did not
// answer; the caller decides how to fall back.
func (l *Limiter) Allow(ctx context.Context, name string) (time.Duration, bool, error) {
	res, err := l.rl.Allow(ctx, l.prefix+name, l.limit)
	if err != nil {
		return 0, false, err
	}
	if res.Allowed > 0 {
		return 0, true, nil
	}
	return max(res.RetryAfter, time.Millisecond), false, nil
}
