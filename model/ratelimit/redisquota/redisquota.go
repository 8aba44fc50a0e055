// Package redisquota shares a deployment's request and token windows among
// every instance of the service through Redis (github.com/go-redis/redis_rate,
// GCRA state kept in Redis), so N instances together stay within the
// deployment's RPM and TPM even before the service's remaining-quota
// headers tell each of them. It complements the process's own limiter
// (ratelimit.Config.Shared): that one keeps reservations, corrections and
// pauses; this one only admits.
package redisquota

import (
	"context"
	"errors"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/newsroom-dev/newsroom/model/ratelimit"
)

var _ ratelimit.SharedQuota = (*Quota)(nil)

// Config configures a Quota.
type Config struct {
	// Client is the shared Redis. Required.
	Client *redis.Client
	// RequestsPerMinute and TokensPerMinute are the deployment's quota;
	// zero means that window is not shared.
	RequestsPerMinute, TokensPerMinute int
	// Prefix starts the window keys; empty means "newsroom:quota:".
	Prefix string
}

// Quota admits calls against windows shared through Redis.
type Quota struct {
	rl       *redis_rate.Limiter
	requests redis_rate.Limit
	tokens   redis_rate.Limit
	prefix   string
}

// New returns a Quota, or an error without a Client.
func New(cfg Config) (*Quota, error) {
	if cfg.Client == nil {
		return nil, errors.New("redisquota: Client is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "newsroom:quota:"
	}
	q := &Quota{rl: redis_rate.NewLimiter(cfg.Client), prefix: cfg.Prefix}
	if cfg.RequestsPerMinute > 0 {
		q.requests = redis_rate.PerMinute(cfg.RequestsPerMinute)
	}
	if cfg.TokensPerMinute > 0 {
		q.tokens = redis_rate.PerMinute(cfg.TokensPerMinute)
	}
	return q, nil
}

// Acquire waits until deployment's shared windows have room for one request
// and tokens (capped at the token window's size, so one large call is not
// refused forever), or ctx ends. Tokens are taken first: a call refused for
// its request is retried with its tokens already held. When Redis does not
// answer, the call goes on (the process's own limiter admitted it already):
// an outage of the shared windows does not fail runs.
func (q *Quota) Acquire(ctx context.Context, deployment string, tokens int) error {
	if !q.tokens.IsZero() && tokens > 0 {
		if err := q.take(ctx, q.prefix+deployment+":tpm", q.tokens, min(tokens, q.tokens.Burst)); err != nil {
			return err
		}
	}
	if !q.requests.IsZero() {
		return q.take(ctx, q.prefix+deployment+":rpm", q.requests, 1)
	}
	return nil
}

func (q *Quota) take(ctx context.Context, key string, limit redis_rate.Limit, n int) error {
	for {
		res, err := q.rl.AllowN(ctx, key, limit, n)
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return nil
		}
		if res.Allowed >= n {
			return nil
		}
		t := time.NewTimer(max(res.RetryAfter, time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}
